package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Close()
	os.Exit(code)
}

// recordTB keeps the errors a tab reports instead of failing the test.
type recordTB struct {
	testing.TB
	errors []string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

const strictCSP = "default-src 'none'; style-src 'self'; img-src 'self'"

// A tab fails its test on every kind of problem a page can have, and on
// none for a clean page or an error page answering its expected status.
func TestTabFailsOnPageProblems(t *testing.T) {
	page := func(status int, csp, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if csp != "" {
				w.Header().Set("Content-Security-Policy", csp)
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>t</title></head><body>`+body+`</body></html>`)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/clean", page(200, strictCSP, `<p>hello</p>`))
	mux.Handle("/not-found", page(404, strictCSP, `<p>no such page</p>`))
	mux.Handle("/inline-style", page(200, strictCSP, `<p style="color:red">hello</p>`))
	mux.Handle("/inline-script", page(200, strictCSP, `<script>document.title = "x"</script>`))
	mux.Handle("/console-error", page(200, "", `<script>console.error("boom")</script>`))
	mux.Handle("/console-warning", page(200, "", `<script>console.warn("careful")</script>`))
	mux.Handle("/exception", page(200, "", `<script>throw new Error("bang")</script>`))
	mux.Handle("/missing-image", page(200, strictCSP, `<img src="/nothing.png" alt="">`))
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	tests := []struct {
		path   string
		status int64
		want   string // part of the one problem reported; "" for none
	}{
		{"/clean", 200, ""},
		{"/not-found", 404, ""},
		{"/inline-style", 200, "Content-Security-Policy violation: kInlineViolation (directive style-src-attr"},
		{"/inline-script", 200, "Content-Security-Policy violation: kInlineViolation (directive script-src-elem"},
		{"/console-error", 200, `console.error: "boom"`},
		{"/console-warning", 200, `console.warning: "careful"`},
		{"/exception", 200, "uncaught exception: Uncaught Error: bang"},
		{"/missing-image", 200, "status of 404"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			rec := &recordTB{TB: t}
			tab := NewTab(rec, Desktop)
			tab.Navigate(srv.URL+tt.path, tt.status)
			if tt.want == "" && len(rec.errors) != 0 {
				t.Errorf("got errors %q, want none", rec.errors)
			}
			if tt.want != "" && !strings.Contains(strings.Join(rec.errors, "\n"), tt.want) {
				t.Errorf("got errors %q, want one with %q", rec.errors, tt.want)
			}
		})
	}
}

// Each viewport gives the page its size, and the phone touch events.
func TestViewports(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>t</title><meta name="viewport" content="width=device-width, initial-scale=1"></head><body></body></html>`)
	}))
	defer srv.Close()
	for _, vp := range []Viewport{Desktop, Phone} {
		t.Run(vp.Name, func(t *testing.T) {
			tab := NewTab(t, vp)
			tab.Navigate(srv.URL, 200)
			got := Run(tab, chromedp.Evaluate[string](`innerWidth + "x" + innerHeight + " " + devicePixelRatio + " " + ('ontouchstart' in window)`))
			want := fmt.Sprintf("%dx%d %g %t", vp.Width, vp.Height, vp.Scale, vp.Mobile)
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			path, png := tab.Screenshot("blank")
			if len(png) < 8 || string(png[1:4]) != "PNG" {
				t.Errorf("screenshot %s is no PNG", path)
			}
		})
	}
}
