package gateway

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/otpgate/otpgate/auth/slapdtest"
)

// otlpReceiver is an OTLP/HTTP trace endpoint: it decodes each export
// request (protobuf) and keeps the spans.
type otlpReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	spans []*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver got %s %s (%s), want POST /v1/traces, application/x-protobuf", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("OTLP body: %v", err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("OTLP export request does not decode: %v", err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *otlpReceiver) named(name string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if s.GetName() == name {
			out = append(out, s)
		}
	}
	return out
}

// attr is a span attribute's value, as text.
func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			if v, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(v.IntValue, 10)
			}
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// childOf is the span named child whose parent is parent.
func childOf(t *testing.T, rc *otlpReceiver, parent *tracepb.Span, child string) *tracepb.Span {
	t.Helper()
	for _, s := range rc.named(child) {
		if string(s.GetParentSpanId()) == string(parent.GetSpanId()) && string(s.GetTraceId()) == string(parent.GetTraceId()) {
			return s
		}
	}
	t.Fatalf("no span %q is a child of %q (%s)", child, parent.GetName(), attr(parent, "url.path"))
	return nil
}

func serverSpan(t *testing.T, rc *otlpReceiver, method, path string) *tracepb.Span {
	t.Helper()
	for _, s := range rc.named(method) {
		if attr(s, "url.path") == path && s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
			return s
		}
	}
	t.Fatalf("no server span for %s %s", method, path)
	return nil
}

// With OTPGATE_TRACING_ENDPOINT set, a sign-in and a proxied request are
// traced: the request's span parents the directory's, the SMS provider's
// and the upstream's, the app gets the trace in traceparent, a trusted
// proxy's traceparent is continued, and no span holds a secret or names
// the user.
func TestTracingSpans(t *testing.T) {
	rc := newOTLPReceiver(t)
	e := startEnv(t, func(c *Config) { c.TracingEndpoint = rc.srv.URL })
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	code := e.sms.lastCode(slapdtest.Alice.Mobile)
	const parentTrace, parentSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	seen := b.appSaw("/reports?token=s3cr3t", "Traceparent", "00-"+parentTrace+"-"+parentSpan+"-01")
	e.close(context.Background())

	signIn := serverSpan(t, rc, "POST", "/otpgate/signin")
	if dir := childOf(t, rc, signIn, "directory authenticate"); attr(dir, "otpgate.directory.result") != "ok" {
		t.Errorf("directory span result %q, want ok", attr(dir, "otpgate.directory.result"))
	}
	if s := childOf(t, rc, signIn, "sms send"); attr(s, "otpgate.sms.provider") != "http" {
		t.Errorf("sms span provider %q, want http", attr(s, "otpgate.sms.provider"))
	}
	if attr(signIn, "otpgate.request_id") == "" || attr(signIn, "http.response.status_code") != "303" {
		t.Errorf("sign-in span: request id %q, status %q; want an id and 303", attr(signIn, "otpgate.request_id"), attr(signIn, "http.response.status_code"))
	}

	app := serverSpan(t, rc, "GET", "/reports")
	if got := hex.EncodeToString(app.GetTraceId()) + "/" + hex.EncodeToString(app.GetParentSpanId()); got != parentTrace+"/"+parentSpan {
		t.Errorf("request span: trace/parent %s, want the trusted proxy's %s/%s", got, parentTrace, parentSpan)
	}
	up := childOf(t, rc, app, "upstream GET")
	wantParent := "00-" + parentTrace + "-" + hex.EncodeToString(up.GetSpanId()) + "-01"
	if got := headerValues(seen, "Traceparent"); len(got) != 1 || got[0] != wantParent {
		t.Errorf("app got traceparent %q, want %q (the upstream span)", got, wantParent)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, s := range rc.spans {
		text := s.String()
		for _, secret := range []string{slapdtest.Alice.Password, slapdtest.Alice.Username, slapdtest.Alice.Mobile,
			strings.TrimPrefix(slapdtest.Alice.Mobile, "+"), code, "s3cr3t", testToken} {
			if strings.Contains(text, secret) {
				t.Errorf("span %q holds %q: %s", s.GetName(), secret, text)
			}
		}
	}
}

// Without OTPGATE_TRACING_ENDPOINT, nothing is traced: the app gets no
// traceparent from otpgate.
func TestTracingOffSendsNoTraceparent(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.signIn(slapdtest.Alice, "/")
	if got := headerValues(b.appSaw("/"), "Traceparent"); len(got) != 0 {
		t.Errorf("app got traceparent %q with tracing off, want none", got)
	}
}
