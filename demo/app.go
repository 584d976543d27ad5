package demo

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

// identityHeaders are the headers otpgate sets after sign-in, in display
// order.
func identityHeaders() []string {
	return []string{"Remote-User", "Remote-Name", "Remote-Email", "Remote-Groups", "Remote-Auth-Level"}
}

// forwardedHeaders are the headers the reverse proxy adds about the client.
func forwardedHeaders() []string {
	return []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}
}

const appPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo app behind otpgate</title>
</head>
<body>
<main>
<h1>Demo app behind otpgate</h1>
<p>This app sits behind otpgate, which signs users in and tells the app who they are in request headers.</p>
<table>
<caption>Identity headers</caption>
<thead><tr><th scope="col">Header</th><th scope="col">Value</th></tr></thead>
<tbody>
{{range .Identity}}<tr><th scope="row">{{.Name}}</th><td>{{if .Sent}}{{.Value}}{{else}}<em>not sent</em>{{end}}</td></tr>
{{end}}</tbody>
</table>
<table>
<caption>Request</caption>
<thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
<tbody>
<tr><th scope="row">Method</th><td>{{.Method}}</td></tr>
<tr><th scope="row">Path</th><td>{{.Path}}</td></tr>
{{range .Forwarded}}<tr><th scope="row">{{.Name}}</th><td>{{if .Sent}}{{.Value}}{{else}}<em>not sent</em>{{end}}</td></tr>
{{end}}</tbody>
</table>
<p>The same as JSON: <a href="/api/whoami">/api/whoami</a></p>
<p><a href="/otpgate/logout">Sign out</a></p>
</main>
</body>
</html>
`

type headerRow struct {
	Name, Value string
	Sent        bool
}

type pageData struct {
	Method, Path        string
	Identity, Forwarded []headerRow
}

// whoami is the /api/whoami response. Headers holds every header the page
// shows, "" when not sent.
type whoami struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

// App returns the demo app: a page showing the identity headers it
// received, and the same as JSON at GET /api/whoami.
func App() http.Handler {
	page := template.Must(template.New("page").Parse(appPage))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/whoami", func(w http.ResponseWriter, r *http.Request) {
		out := whoami{Method: r.Method, Path: r.URL.Path, Headers: make(map[string]string)}
		for _, name := range append(identityHeaders(), forwardedHeaders()...) {
			out.Headers[name], _ = headerValue(r, name)
		}
		body, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			http.Error(w, "cannot encode response", http.StatusInternalServerError)
			return
		}
		setCommonHeaders(w, "application/json")
		_, _ = w.Write(append(body, '\n'))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		data := pageData{Method: r.Method, Path: r.URL.Path,
			Identity: headerRows(r, identityHeaders()), Forwarded: headerRows(r, forwardedHeaders())}
		// Render fully before writing so a template error is a clean 500.
		var buf bytes.Buffer
		if err := page.Execute(&buf, data); err != nil {
			http.Error(w, "cannot render page", http.StatusInternalServerError)
			return
		}
		setCommonHeaders(w, "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	})
	return mux
}

func headerRows(r *http.Request, names []string) []headerRow {
	rows := make([]headerRow, 0, len(names))
	for _, name := range names {
		v, sent := headerValue(r, name)
		rows = append(rows, headerRow{Name: name, Value: v, Sent: sent})
	}
	return rows
}

// headerValue joins repeated headers with ", ", which HTTP defines as
// meaning the same as one header listing them all.
func headerValue(r *http.Request, name string) (string, bool) {
	values := r.Header.Values(name)
	return strings.Join(values, ", "), len(values) > 0
}

func setCommonHeaders(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	// The page shows who is signed in, so no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}
