package setting

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type testSettings struct {
	Addr    string        `split_words:"true" default:":8080" desc:"where"`
	Secret  string        `split_words:"true" file:"true" desc:"a secret"`
	Wait    time.Duration `split_words:"true" default:"5s"`
	Count   int           `split_words:"true" default:"3"`
	On      bool          `split_words:"true" default:"true"`
	Names   []string      `split_words:"true" default:"a,b"`
	Backend backend
}

type backend struct {
	URL string `split_words:"true"`
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		environ []string
		want    testSettings
		errs    []string // each must appear in the error
	}{
		{name: "defaults", want: testSettings{Addr: ":8080", Wait: 5 * time.Second, Count: 3, On: true, Names: []string{"a", "b"}}},
		{name: "values and a nested prefix",
			environ: []string{"X_ADDR=:9", "X_WAIT=1m", "X_COUNT=7", "X_ON=false", "X_NAMES=", "X_BACKEND_URL=http://b", "OTHER=1"},
			want:    testSettings{Addr: ":9", Wait: time.Minute, Count: 7, Backend: backend{URL: "http://b"}}},
		{name: "a secret from a file, without its newline", environ: []string{"X_SECRET_FILE=" + file},
			want: testSettings{Addr: ":8080", Secret: "s3cret", Wait: 5 * time.Second, Count: 3, On: true, Names: []string{"a", "b"}}},
		{name: "every problem at once",
			environ: []string{"X_WAIT=soon", "X_COUNT=three", "X_ON=yes please", "X_SECRET=a", "X_SECRET_FILE=" + file},
			errs: []string{`X_WAIT: "soon" is not a valid duration`, `X_COUNT: "three" is not a valid whole number`,
				`X_ON: "yes please" is not a valid boolean`, "X_SECRET: set both X_SECRET and X_SECRET_FILE"}},
		{name: "an unreadable file", environ: []string{"X_SECRET_FILE=" + filepath.Join(dir, "missing")},
			errs: []string{"X_SECRET_FILE: cannot read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testSettings
			err := Load("X", &got, tt.environ)
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got.Addr != tt.want.Addr || got.Secret != tt.want.Secret || got.Wait != tt.want.Wait || got.Count != tt.want.Count ||
					got.On != tt.want.On || !slices.Equal(got.Names, tt.want.Names) || got.Backend != tt.want.Backend {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			for _, want := range tt.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got error %v, want one containing %q", err, want)
				}
			}
		})
	}
}

func TestNamesAndNearest(t *testing.T) {
	names := Names("X", &testSettings{})
	want := []string{"X_ADDR", "X_SECRET", "X_SECRET_FILE", "X_WAIT", "X_COUNT", "X_ON", "X_NAMES", "X_BACKEND_URL"}
	if !slices.Equal(names, want) {
		t.Errorf("Names = %q, want %q", names, want)
	}
	if got := Nearest("X_BACKEND_ULR", names); got != "X_BACKEND_URL" {
		t.Errorf("Nearest(X_BACKEND_ULR) = %q, want X_BACKEND_URL", got)
	}
	if got := Nearest("Y_SOMETHING_ELSE", names); got != "" {
		t.Errorf("Nearest(Y_SOMETHING_ELSE) = %q, want none", got)
	}
}
