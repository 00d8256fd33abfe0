package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"depot/metrics"
	"depot/mft"
)

// scrape returns the text Prometheus would read.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestMetrics_CountEventsWithBoundedLabels(t *testing.T) {
	m := metrics.New()
	m.Publish(mft.Event{Event: mft.EventFileUploaded, Protocol: "sftp", Status: mft.StatusOK, Size: 1000})
	m.Publish(mft.Event{Event: mft.EventFileUploaded, Protocol: "sftp", Status: mft.StatusOK, Size: 24})
	m.Publish(mft.Event{Event: mft.EventFileDownloaded, Protocol: "api", Status: mft.StatusOK, Size: -5})
	m.Publish(mft.Event{Event: mft.EventUserLoginFailed, Protocol: "/users/joe/secret-path", Status: mft.StatusDenied})
	m.Publish(mft.Event{Event: mft.EventUserLogin, Protocol: "web"})
	m.Publish(mft.Event{Event: mft.EventIPBanned})
	m.Publish(mft.Event{Event: mft.EventAutomationFailed})
	m.Publish(mft.Event{Event: "made.up"})
	m.ObserveHTTP("BREW", "", 418, time.Millisecond)
	m.ObserveWebhook(true, time.Millisecond)
	m.Gauge("depot_test_gauge", "A gauge.", func() float64 { return 7 })
	m.Counter("depot_test_counter", "A counter.", func() float64 { return 3 })
	out := scrape(t, m)
	for _, want := range []string{
		`depot_transfer_bytes_total{direction="upload",protocol="sftp",status="ok"} 1024`,
		`depot_transfers_total{direction="upload",protocol="sftp",status="ok"} 2`,
		`depot_transfer_bytes_total{direction="download",protocol="api",status="ok"} 0`,
		`depot_logins_total{protocol="other",result="failed"} 1`,
		`depot_logins_total{protocol="web",result="ok"} 1`,
		`depot_bans_total 1`,
		`depot_automation_runs_total{outcome="failed"} 1`,
		`depot_audit_events_total{event="other"} 1`,
		`depot_http_request_duration_seconds_count{code="418",method="other",route="unmatched"} 1`,
		`depot_webhook_delivery_seconds_count{outcome="delivered"} 1`,
		`depot_test_gauge 7`,
		`depot_test_counter 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, "secret-path") || strings.Contains(out, "made.up") || strings.Contains(out, "BREW") {
		t.Error("a label value outside its fixed set reached the scrape")
	}
}
