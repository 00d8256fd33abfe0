// Package metrics is what Depot tells Prometheus (client_golang): bytes
// and files moved, logins and bans, automation runs and webhook
// deliveries, HTTP requests, and gauges read when scraped (sessions,
// queue, storage, the database), with Go's runtime and the process.
// Label values come from fixed sets (protocols, events, route patterns),
// never from paths or user ids.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"depot/mft"
)

// Metrics holds Depot's collectors in their own registry. It is an
// mft.EventSink: the events every workflow publishes are what it counts.
type Metrics struct {
	reg            *prometheus.Registry
	transferBytes  *prometheus.CounterVec
	transfers      *prometheus.CounterVec
	events         *prometheus.CounterVec
	logins         *prometheus.CounterVec
	loginMethods   *prometheus.CounterVec
	bans           prometheus.Counter
	runs           *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	webhookLatency *prometheus.HistogramVec
}

// New makes the collectors, with Go's runtime and the process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.transferBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "depot_transfer_bytes_total",
		Help: "Bytes of files uploaded and downloaded, by protocol, direction and status."}, []string{"protocol", "direction", "status"})
	m.transfers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "depot_transfers_total",
		Help: "Files uploaded and downloaded, by protocol, direction and status."}, []string{"protocol", "direction", "status"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "depot_audit_events_total",
		Help: "Audit events written, by event."}, []string{"event"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "depot_logins_total",
		Help: "Logins by protocol and result (ok or failed)."}, []string{"protocol", "result"})
	m.loginMethods = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "depot_login_methods_total",
		Help: "Successful logins by method (password, ldap, publickey, each +totp with a two-factor code; oidc)."}, []string{"method"})
	m.bans = prometheus.NewCounter(prometheus.CounterOpts{Name: "depot_bans_total", Help: "Addresses banned by the defender."})
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "depot_automation_runs_total",
		Help: "Automation runs finished, by outcome (succeeded or failed)."}, []string{"outcome"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "depot_http_request_duration_seconds",
		Help: "HTTP requests by method, route pattern and status code, with their durations.", Buckets: prometheus.DefBuckets},
		[]string{"method", "route", "code"})
	m.webhookLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "depot_webhook_delivery_seconds",
		Help: "Webhook delivery attempts by outcome (delivered or failed), with their latency.", Buckets: prometheus.DefBuckets},
		[]string{"outcome"})
	for _, c := range []prometheus.Collector{m.transferBytes, m.transfers, m.events, m.logins, m.loginMethods, m.bans, m.runs,
		m.httpDuration, m.webhookLatency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// Gauge adds a gauge read from fn at each scrape.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Counter adds a counter read from fn at each scrape.
func (m *Metrics) Counter(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// protocols and statuses are the label values kept; others are "other".
var (
	protocols = mft.ConditionProtocols // every protocol an event can name
	statuses  = []string{mft.StatusOK, mft.StatusError, mft.StatusDenied}
	// loginMethods are what a user.login event's message names.
	loginMethods = []string{"password", "ldap", "password+totp", "ldap+totp", "publickey", "publickey+totp", "oidc"}
)

func bounded(v string, set []string) string {
	if slices.Contains(set, v) {
		return v
	}
	return "other"
}

// Publish counts an event (mft.EventSink).
func (m *Metrics) Publish(ev mft.Event) {
	m.events.WithLabelValues(bounded(ev.Event, mft.EventNames)).Inc()
	proto, status := bounded(ev.Protocol, protocols), bounded(ev.Status, statuses)
	switch ev.Event {
	case mft.EventFileUploaded, mft.EventFileDownloaded:
		dir := "upload"
		if ev.Event == mft.EventFileDownloaded {
			dir = "download"
		}
		m.transfers.WithLabelValues(proto, dir, status).Inc()
		m.transferBytes.WithLabelValues(proto, dir, status).Add(float64(max(ev.Size, 0)))
	case mft.EventUserLogin:
		m.logins.WithLabelValues(proto, "ok").Inc()
		method, _, _ := strings.Cut(ev.Message, " ") // "publickey SHA256:…"
		m.loginMethods.WithLabelValues(bounded(method, loginMethods)).Inc()
	case mft.EventUserLoginFailed:
		m.logins.WithLabelValues(proto, "failed").Inc()
	case mft.EventIPBanned:
		m.bans.Inc()
	case mft.EventAutomationSucceeded:
		m.runs.WithLabelValues("succeeded").Inc()
	case mft.EventAutomationFailed:
		m.runs.WithLabelValues("failed").Inc()
	}
}

// ObserveHTTP records one request; route is the pattern it matched
// ("/api/files/:id"), or "unmatched".
func (m *Metrics) ObserveHTTP(method, route string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.httpDuration.WithLabelValues(bounded(method, methods), route, strconv.Itoa(code)).Observe(d.Seconds())
}

var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// ObserveWebhook records one delivery attempt.
func (m *Metrics) ObserveWebhook(delivered bool, d time.Duration) {
	outcome := "failed"
	if delivered {
		outcome = "delivered"
	}
	m.webhookLatency.WithLabelValues(outcome).Observe(d.Seconds())
}
