// Package tracing sends OpenTelemetry traces of otpgate's requests to an
// OTLP/HTTP collector: a span per request, with children for the
// directory, each SMS provider and the upstream app.
//
// It is off unless configured, and then nothing of it is installed: the
// gateway wraps its parts only with a *Tracing that New returned.
//
// Spans carry no secret and nothing that identifies a user: no password,
// code, phone number, message, username, query string or header value.
// Trace back-ends are often read more widely than logs; the request id on
// each request span leads to the log lines, which say who.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/internal/reqid"
	"github.com/otpgate/otpgate/sms"
)

// Tracing makes otpgate's spans and sends them.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// New sends spans to endpoint, an OTLP/HTTP collector's URL: without a
// path (http://collector:4318) the standard /v1/traces is used. The
// exporter's other settings (headers, TLS, timeout, compression) and the
// sampler come from the standard OTEL_EXPORTER_OTLP_* and
// OTEL_TRACES_SAMPLER variables. Nothing is sent until the first span.
func New(endpoint, version string) (*Tracing, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL with a host", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", "otpgate"), attribute.String("service.version", version)))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, tracer: tp.Tracer("github.com/otpgate/otpgate"),
		prop: propagation.TraceContext{}}, nil
}

// Shutdown sends the spans not yet sent and stops.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// Handler starts a span for each request. A trusted proxy's traceparent
// makes it that trace's child; a client's is ignored, so no client can
// join or steer otpgate's traces.
func (t *Tracing) Handler(next http.Handler, trusted func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if trusted(r) {
			ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		} else {
			ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
		}
		ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("otpgate.request_id", reqid.ID(ctx)),
		))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// Transport makes a span of each request to the upstream app and sends
// the trace on to it (W3C traceparent).
func (t *Tracing) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		ctx, span := t.tracer.Start(req.Context(), "upstream "+req.Method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(
				attribute.String("http.request.method", req.Method),
				attribute.String("server.address", req.URL.Host),
				attribute.String("url.path", req.URL.Path),
			))
		defer span.End()
		out := req.Clone(ctx) // a RoundTripper must not change the request it is given
		t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
		resp, err := next.RoundTrip(out)
		if err != nil {
			span.SetStatus(codes.Error, "no answer from the app")
			return nil, err
		}
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		}
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Sender makes a span of each send through SMS provider name. The number
// and the message stay out of it, and so does the error, which may quote
// the gateway's answer.
func (t *Tracing) Sender(name string, next sms.Sender) sms.Sender {
	return &sender{t: t, name: name, next: next}
}

type sender struct {
	t    *Tracing
	name string
	next sms.Sender
}

func (s *sender) Send(ctx context.Context, to, message string) error {
	ctx, span := s.t.tracer.Start(ctx, "sms send", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("otpgate.sms.provider", s.name)))
	defer span.End()
	err := s.next.Send(ctx, to, message)
	if err != nil {
		span.SetStatus(codes.Error, "not sent")
	}
	return err
}

// Directory makes a span of each sign-in's directory work (the search for
// the user and the binds); readiness probes, every few seconds, make
// none. The directory's
// other abilities (capture, backup codes, login names) stay reachable.
func (t *Tracing) Directory(d *auth.LDAP) auth.Directory { return &directory{LDAP: d, t: t} }

type directory struct {
	*auth.LDAP
	t *Tracing
}

func (d *directory) AuthenticateWith(ctx context.Context, username, password string, admit func(auth.User) error) (auth.User, error) {
	ctx, span := d.t.tracer.Start(ctx, "directory authenticate", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	u, err := d.LDAP.AuthenticateWith(ctx, username, password, admit)
	span.SetAttributes(attribute.String("otpgate.directory.result", directoryResult(err)))
	if errors.Is(err, auth.ErrDirectoryUnavailable) {
		span.SetStatus(codes.Error, "directory unavailable")
	}
	return u, err
}

// directoryResult names the outcome, never its details (which hold the
// name searched for).
func directoryResult(err error) string {
	var state *auth.AccountStateError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, auth.ErrDirectoryUnavailable):
		return "unavailable"
	case errors.Is(err, auth.ErrInvalidCredentials):
		return "invalid_credentials"
	case errors.As(err, &state):
		return "account_state"
	}
	return "failed"
}

// statusRecorder notes the status of a response; Unwrap lets
// http.ResponseController reach the connection under it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 && (status >= 200 || status == http.StatusSwitchingProtocols) {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
