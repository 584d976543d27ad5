package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/otpgate/otpgate/sms"
)

// metrics are otpgate's Prometheus metrics, in a registry of their own
// (no package-level state), served on OTPGATE_METRICS_ADDR.
type metrics struct {
	registry      *prometheus.Registry
	signIns       *prometheus.CounterVec
	codeChecks    *prometheus.CounterVec
	codesSent     *prometheus.CounterVec
	smsLatency    *prometheus.HistogramVec
	decisions     *prometheus.CounterVec
	upstreamTimes *prometheus.HistogramVec
	connRefused   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpgate_signins_total", Help: "Password steps of sign-ins, by result.",
		}, []string{"result"}),
		codeChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpgate_code_checks_total", Help: "Codes (SMS or backup) checked, by result.",
		}, []string{"result"}),
		codesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpgate_sms_sent_total", Help: "SMS sends tried, by provider and result.",
		}, []string{"provider", "result"}),
		smsLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "otpgate_sms_send_seconds", Help: "Time one SMS provider took to answer.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"provider"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpgate_auth_decisions_total", Help: "Access decisions on requests, by result.",
		}, []string{"result"}),
		upstreamTimes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "otpgate_upstream_seconds", Help: "Time the app took to answer proxied requests.",
			Buckets: prometheus.DefBuckets,
		}, []string{"code"}),
		connRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otpgate_connections_refused_total", Help: "Client connections closed at once for being over a cap (total or per_address).",
		}, []string{"reason"}),
	}
	m.registry.MustRegister(m.signIns, m.codeChecks, m.codesSent, m.smsLatency, m.decisions, m.upstreamTimes, m.connRefused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SignIn and CodeCheck make metrics an auth.Observer.
func (m *metrics) SignIn(result string)    { m.signIns.WithLabelValues(result).Inc() }
func (m *metrics) CodeCheck(result string) { m.codeChecks.WithLabelValues(result).Inc() }

// Decision counts one access decision (proxy.Config.Decision).
func (m *metrics) Decision(result string) { m.decisions.WithLabelValues(result).Inc() }

// decisionCounter is Decision with the counters of every result proxy
// names looked up once: a request then only adds one.
func (m *metrics) decisionCounter() func(result string) {
	counters := map[string]prometheus.Counter{}
	for _, r := range []string{"allow", "bypass", "sign_in", "deny_rule", "deny_group", "untrusted", "malformed", "misdirected"} {
		counters[r] = m.decisions.WithLabelValues(r)
	}
	return func(result string) {
		if c, ok := counters[result]; ok {
			c.Inc()
			return
		}
		m.Decision(result)
	}
}

// ConnectionRefused counts one connection closed for being over a cap.
func (m *metrics) ConnectionRefused(reason string) { m.connRefused.WithLabelValues(reason).Inc() }

// sender wraps one SMS provider so that its sends are counted and timed.
func (m *metrics) sender(provider string, s sms.Sender) sms.Sender {
	return &measuredSender{m: m, provider: provider, next: s}
}

type measuredSender struct {
	m        *metrics
	provider string
	next     sms.Sender
}

func (s *measuredSender) Send(ctx context.Context, to, message string) error {
	start := time.Now()
	err := s.next.Send(ctx, to, message)
	s.m.smsLatency.WithLabelValues(s.provider).Observe(time.Since(start).Seconds())
	result := "ok"
	if err != nil {
		result = "failed"
	}
	s.m.codesSent.WithLabelValues(s.provider, result).Inc()
	return err
}

// transport times requests to the app, by the status it answered (none
// when it did not answer).
func (m *metrics) transport(next http.RoundTripper) http.RoundTripper {
	return &timedTransport{next: next, times: m.upstreamTimes}
}

type timedTransport struct {
	next  http.RoundTripper
	times *prometheus.HistogramVec
	// byStatus holds the observer of each status seen, looked up once:
	// a label look-up on every request costs a hash and allocations.
	byStatus [600]atomic.Pointer[prometheus.Observer]
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		t.observer(resp.StatusCode).Observe(time.Since(start).Seconds())
	}
	return resp, err
}

func (t *timedTransport) observer(status int) prometheus.Observer {
	if status < 0 || status >= len(t.byStatus) {
		return t.times.WithLabelValues(strconv.Itoa(status))
	}
	if o := t.byStatus[status].Load(); o != nil {
		return *o
	}
	o := t.times.WithLabelValues(strconv.Itoa(status))
	t.byStatus[status].Store(&o)
	return o
}

// serveMetrics serves /metrics on addr until ctx ends.
func (m *metrics) serve(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { //nolint:gosec // ctx has ended when this shuts down: the shutdown needs a context of its own
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}
