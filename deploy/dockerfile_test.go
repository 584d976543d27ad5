package deploy

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerfile reads the Dockerfile (no Docker here to build it) and
// checks it against the manifests and the code.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with continuation lines joined and comments dropped.
	var instr []string
	cur := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		instr = append(instr, cur+trimmed)
		cur = ""
	}
	var froms []string
	has := func(re string) bool {
		r := regexp.MustCompile(re)
		return slices.ContainsFunc(instr, r.MatchString)
	}
	for _, in := range instr {
		if strings.HasPrefix(strings.ToUpper(in), "FROM ") {
			froms = append(froms, in)
		}
	}
	last := ""
	if len(froms) > 0 {
		last = froms[len(froms)-1]
	}
	listen := portOf(t, "OTPGATE_LISTEN_ADDR's default", configDefault(t, "OTPGATE_LISTEN_ADDR"))
	modIdx := slices.IndexFunc(instr, regexp.MustCompile(`^RUN .*go mod download`).MatchString)
	srcIdx := slices.IndexFunc(instr, regexp.MustCompile(`^COPY \. `).MatchString)
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"build stage", "FROM golang:1.26 (bookworm)", len(froms) > 1 && regexp.MustCompile(`golang:1\.26[.\d]*(-bookworm)?(@sha256:[0-9a-f]+)? AS `).MatchString(froms[0])},
		{"final stage", "FROM gcr.io/distroless/static-debian12:nonroot", strings.Contains(last, "gcr.io/distroless/static-debian12:nonroot")},
		{"static build", "CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\"", has(`CGO_ENABLED=0 .*go build .*-trimpath .*-ldflags="-s -w[^"]*"`)},
		{"modules in their own layer", "COPY go.mod go.sum, RUN go mod download, then COPY . .", has(`^COPY go\.mod go\.sum `) && modIdx >= 0 && srcIdx > modIdx},
		{"user", fmt.Sprintf("USER %d:%d", imageUID, imageUID), has(fmt.Sprintf(`^USER %d(:%d)?$`, imageUID, imageUID))},
		{"expose", fmt.Sprintf("EXPOSE %d (OTPGATE_LISTEN_ADDR's default)", listen), has(fmt.Sprintf(`^EXPOSE %d$`, listen))},
		{"entrypoint", `ENTRYPOINT ["/otpgate"]`, has(`^ENTRYPOINT \["/otpgate"\]$`)},
		{"no healthcheck", "no HEALTHCHECK (probes do it; distroless has no shell or curl)", !has(`^HEALTHCHECK `)},
	}
	for _, tc := range cases {
		if !tc.ok {
			t.Errorf("Dockerfile %s: got no match, want %s", tc.name, tc.want)
		}
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for line := range strings.SplitSeq(string(ignore), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	for _, want := range []string{".git", "bench.txt"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore: got no line %q, want one", want)
		}
	}
	for _, embedded := range []string{"ui", "ui/templates", "ui/static", "go.mod", "go.sum", "*.go"} {
		if slices.Contains(lines, embedded) {
			t.Errorf(".dockerignore: got %q, want it kept: the build needs it", embedded)
		}
	}
}
