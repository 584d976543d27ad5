package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// The readers of the differential test: each says where one kind of
// server would dispatch a request target, so that otpgate's verdict on
// the target can be held against every one of them.

// diffReading is where a reader dispatches a request target.
type diffReading struct {
	area string // the handler it reaches (public, healthz, internal, admin, root); "" if none
	path string // the path that handler sees
	note string // why no handler is reached: a status, a rejection
}

func (r diffReading) reached() bool { return r.area != "" }

// diffArea maps a path to a handler the way every server in the test is
// configured: /public/ and below, /healthz exactly, /internal/ and below,
// /admin/ and below, everything else to /.
func diffArea(p string) string {
	switch {
	case strings.HasPrefix(p, "/public/"):
		return "public"
	case p == "/healthz":
		return "healthz"
	case strings.HasPrefix(p, "/internal/"):
		return "internal"
	case strings.HasPrefix(p, "/admin/"):
		return "admin"
	}
	return "root"
}

// diffAreaSample is a path of each area, to look up the rule for the area
// a server dispatched to, besides the rule for the path it passed on.
var diffAreaSample = map[string]string{
	"public": "/public/x", "healthz": "/healthz", "internal": "/internal/x", "admin": "/admin/x",
}

// diffResponse reads a handler's answer, "AREA PATH", as a reading.
func diffResponse(status int, body string) diffReading {
	switch {
	case status == http.StatusOK:
		area, path, _ := strings.Cut(body, " ")
		return diffReading{area: area, path: path}
	case status >= 300 && status < 400:
		// ServeMux redirects to the clean path; the browser then asks for
		// that, which otpgate judges on its own.
		return diffReading{note: fmt.Sprintf("redirect %d", status)}
	}
	return diffReading{note: fmt.Sprintf("status %d", status)}
}

// diffMux is Go's http.ServeMux with a handler for each area, each
// answering with its area and the path it sees.
func diffMux() *http.ServeMux {
	mux := http.NewServeMux()
	for pattern, area := range map[string]string{
		"/public/": "public", "/healthz": "healthz", "/internal/": "internal", "/admin/": "admin", "/": "root",
	} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, area+" "+r.URL.Path)
		})
	}
	return mux
}

// diffNginxConf is nginx with a location for each area, each answering
// with its area and $uri, the normalised path nginx routes on (decoded
// once, dot segments resolved, slashes merged).
func diffNginxConf(listen string) string {
	return fmt.Sprintf(`server {
	listen %s;
	server_name %s;
	merge_slashes on;
	access_log off; # thousands of lines, useless in a failure's output
	default_type text/plain;
	location /public/ { return 200 "public $uri"; }
	location = /healthz { return 200 "healthz $uri"; }
	location /internal/ { return 200 "internal $uri"; }
	location /admin/ { return 200 "admin $uri"; }
	location / { return 200 "root $uri"; }
}
`, listen, diffHost)
}

// muxReadInProcess is ServeMux's reading, with the request line parsed by
// Go's own parser (http.ReadRequest), for the fuzz target.
func muxReadInProcess(mux http.Handler, target string) diffReading {
	if !sendable(target) {
		return diffReading{note: "not a request target"}
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
		"GET " + target + " HTTP/1.1\r\nHost: " + diffHost + "\r\n\r\n")))
	if err != nil {
		return diffReading{note: "status 400"}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return diffResponse(rec.Code, rec.Body.String())
}

// sendable reports whether target can stand in a request line as one
// token; otpgate refuses every target that cannot.
func sendable(target string) bool {
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return target != ""
}

// serverReadings sends each target as the raw request line
// "GET <target> HTTP/1.1" (so that no client re-encodes it) to the server
// at addr, over a few keep-alive connections, and reads where the server
// dispatched it.
func serverReadings(addr string, targets []string) ([]diffReading, error) {
	out := make([]diffReading, len(targets))
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &rawClient{addr: addr}
			defer c.close()
			for i := w; i < len(targets); i += workers {
				if !sendable(targets[i]) {
					out[i] = diffReading{note: "not a request target"}
					continue
				}
				status, body, err := c.get(targets[i])
				if err != nil {
					errs <- fmt.Errorf("GET %q from %s: %w", targets[i], addr, err)
					return
				}
				out[i] = diffResponse(status, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

// rawClient writes request lines as they are given, on one keep-alive
// connection, opening another when the server closed it.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func (c *rawClient) get(target string) (int, string, error) {
	for {
		fresh := c.conn == nil
		if fresh {
			conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
			if err != nil {
				return 0, "", err
			}
			c.conn, c.br = conn, bufio.NewReader(conn)
		}
		status, body, closing, err := c.roundTrip(target)
		if err == nil {
			if closing {
				c.close()
			}
			return status, body, nil
		}
		c.close()
		if fresh {
			return 0, "", err
		}
		// A kept-alive connection the server had closed meanwhile: again
		// on a new one.
	}
}

func (c *rawClient) roundTrip(target string) (status int, body string, closing bool, err error) {
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.conn, "GET "+target+" HTTP/1.1\r\nHost: "+diffHost+"\r\n\r\n"); err != nil {
		return 0, "", false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, "", false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", false, err
	}
	return resp.StatusCode, string(b), resp.Close, nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// servletRead canonicalises a request target by the steps of Jakarta
// Servlet 6.1 §3.5.2 "URI Path Canonicalization": discard the fragment,
// split off the query, split into segments, remove each segment's
// ";params", decode, remove empty segments but the last, remove dot
// segments. strict rejects every suspicious sequence of step 10 with 400.
// Otherwise it reads as containers did before the spec named them (and
// as some still may be configured to): "..;" and "%2e%2e" are "..", and
// only what Tomcat rejects by default is rejected (encoded "/", "\",
// control characters, bad escapes or UTF-8, climbing above the root).
func servletRead(target string, strict bool) diffReading {
	reject := func(why string) diffReading { return diffReading{note: "400 " + why} }
	path := target
	if i := strings.IndexByte(path, '#'); i >= 0 {
		if strict {
			return reject("fragment")
		}
		path = path[:i]
	}
	path, _, _ = strings.Cut(path, "?")
	if !strings.HasPrefix(path, "/") {
		return reject("must start with /")
	}
	// Rejected wherever they are, path parameters included.
	whole, ok := percentDecode(path, false)
	switch {
	case !ok || !utf8.ValidString(whole):
		return reject("decode error")
	case strings.Contains(strings.ToLower(path), "%2f"):
		return reject("encoded /")
	case strings.Contains(whole, "\\"):
		return reject("backslash")
	case strings.IndexFunc(whole, unicode.IsControl) >= 0:
		return reject("control character")
	}
	raw := strings.Split(path[1:], "/")
	var segs []string
	for i, s := range raw {
		s, _, params := strings.Cut(s, ";")
		dec, _ := percentDecode(s, false)
		if strict {
			switch {
			case (dec == "." || dec == "..") && params:
				return reject("dot segment with parameter")
			case (dec == "." || dec == "..") && dec != s:
				return reject("encoded dot segment")
			case dec == "" && params && i < len(raw)-1:
				return reject("empty segment with parameters")
			}
		}
		if dec == "" && i < len(raw)-1 {
			continue // empty segments but the last are removed
		}
		segs = append(segs, dec)
	}
	out, ok := removeDotSegments(segs)
	if !ok {
		return reject("leading dot-dot segment")
	}
	p := "/" + strings.Join(out, "/")
	return diffReading{area: diffArea(p), path: p}
}

// removeDotSegments drops "." segments and each ".." with the segment
// before it; ok is false when a ".." would climb above the root.
func removeDotSegments(segs []string) (out []string, ok bool) {
	for _, s := range segs {
		switch s {
		case ".":
		case "..":
			if len(out) == 0 {
				return nil, false
			}
			out = out[:len(out)-1]
		default:
			out = append(out, s)
		}
	}
	return out, true
}

// iisRead reads a request target as IIS on Windows maps it to a file:
// percent-escapes and IIS's %uXXXX decoded once, "\" a separator like
// "/", dot segments resolved (a segment of dots and spaces is "." or
// ".."), empty segments dropped, and the trailing dots and spaces of each
// segment trimmed, which Windows ignores in file names. Names are
// compared case-insensitively: see iisFold.
func iisRead(target string) diffReading {
	path := target
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "\\") {
		return diffReading{note: "400 must start with /"}
	}
	dec, ok := percentDecode(path, true)
	if !ok || !utf8.ValidString(dec) {
		return diffReading{note: "400 bad escape or UTF-8"}
	}
	if strings.IndexFunc(dec, unicode.IsControl) >= 0 {
		return diffReading{note: "400 control character"}
	}
	raw := strings.FieldsFunc(dec, func(r rune) bool { return r == '/' || r == '\\' })
	var segs []string
	for _, s := range raw {
		trimmed := strings.TrimRight(s, ". ")
		switch {
		case trimmed != "":
			segs = append(segs, trimmed)
		case strings.Count(s, ".") >= 2:
			segs = append(segs, "..")
		case strings.Contains(s, "."):
			segs = append(segs, ".")
		}
	}
	out, ok := removeDotSegments(segs)
	if !ok {
		return diffReading{note: "400 above the root"}
	}
	p := "/" + strings.Join(out, "/")
	if len(out) > 0 && strings.ContainsAny(dec[len(dec)-1:], "/\\") {
		p += "/"
	}
	return diffReading{area: diffArea(iisFold(p)), path: p}
}

// iisFold is the name a case-insensitive server compares: each character
// upper-cased, then lower-cased, as Java's String.equalsIgnoreCase
// compares characters (and as Python's re.IGNORECASE and Go's
// unicode.ToLower treat "İ" and "ı" as "i", which Unicode case folding
// does not).
func iisFold(p string) string {
	return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, p)
}

// percentDecode decodes %XX escapes and, with percentU, IIS's %uXXXX;
// ok is false for a "%" that starts neither.
func percentDecode(s string, percentU bool) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '%':
			b.WriteByte(s[i])
		case i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case percentU && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') &&
			isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
			var r rune
			for _, c := range []byte(s[i+2 : i+6]) {
				r = r<<4 | rune(unhex(c))
			}
			b.WriteRune(r)
			i += 5
		default:
			return "", false
		}
	}
	return b.String(), true
}
