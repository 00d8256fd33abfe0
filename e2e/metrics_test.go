package e2e

import (
	"bytes"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics with key and parses it as Prometheus does.
func (ts *testServer) scrape(t *testing.T, key string) map[string]*dto.MetricFamily {
	t.Helper()
	r := ts.do(t, "GET", "/metrics", key, "")
	want(t, r, 200)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, r.body)
	}
	return fams
}

// value is the sample of family name whose labels include labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	var found []float64
	for _, m := range f.Metric {
		match := 0
		for _, l := range m.Label {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match != len(labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			found = append(found, m.Counter.GetValue())
		case m.Gauge != nil:
			found = append(found, m.Gauge.GetValue())
		case m.Histogram != nil:
			found = append(found, float64(m.Histogram.GetSampleCount()))
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, labels, len(found))
	}
	return found[0]
}

// After a known set of transfers, logins and requests, /metrics says
// exactly that; it is for administrators only, and labels carry routes,
// never paths or users.
func TestMetrics_CountWhatHappened(t *testing.T) {
	ts := MustOpenServer(t)
	sizes := []int{100, 2000, 30000}
	for i, n := range sizes {
		want(t, ts.do(t, "PUT", "/api/files/content?path=/m"+string(rune('a'+i))+".bin", adminKey, strings.Repeat("x", n)), 201)
	}
	want(t, ts.do(t, "GET", "/api/files/content?path=/mb.bin", adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/api/files", "wrong-key-0123456789abcdef", ""), 401)
	c := ts.partnerSFTP(t, "metrics-partner")
	f, err := c.Create("/up.bin")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte("s"), 5000))
	f.Close()

	fams := ts.scrape(t, adminKey)
	up := map[string]string{"protocol": "api", "direction": "upload", "status": "ok"}
	if got := value(t, fams, "depot_transfer_bytes_total", up); got != 32100 {
		t.Fatalf("api upload bytes %v, want 32100", got)
	}
	if got := value(t, fams, "depot_transfers_total", up); got != 3 {
		t.Fatalf("api uploads %v, want 3", got)
	}
	down := map[string]string{"protocol": "api", "direction": "download", "status": "ok"}
	if got := value(t, fams, "depot_transfer_bytes_total", down); got != 2000 {
		t.Fatalf("api download bytes %v, want 2000", got)
	}
	sftpUp := map[string]string{"protocol": "sftp", "direction": "upload", "status": "ok"}
	if got := value(t, fams, "depot_transfer_bytes_total", sftpUp); got != 5000 {
		t.Fatalf("sftp upload bytes %v, want 5000", got)
	}
	if got := value(t, fams, "depot_sftp_sessions", nil); got != 1 {
		t.Fatalf("live sftp sessions %v, want 1", got)
	}
	if got := value(t, fams, "depot_logins_total", map[string]string{"protocol": "api", "result": "failed"}); got != 1 {
		t.Fatalf("failed api logins %v, want 1", got)
	}
	if got := value(t, fams, "depot_http_request_duration_seconds", map[string]string{"method": "PUT", "route": "/api/files/content", "code": "201"}); got != 3 {
		t.Fatalf("PUT /api/files/content 201 observed %v times, want 3", got)
	}
	if got := value(t, fams, "depot_storage_used_bytes", nil); got != 32100+5000 {
		t.Fatalf("storage used %v, want %d", got, 32100+5000)
	}
	if value(t, fams, "depot_storage_free_bytes", nil) <= 0 || value(t, fams, "depot_db_size_bytes", nil) <= 0 ||
		value(t, fams, "depot_db_commits_total", nil) <= 0 {
		t.Fatal("storage free, database size or commits are not reported")
	}
	if fams["go_goroutines"] == nil || fams["process_resident_memory_bytes"] == nil {
		t.Fatal("no Go runtime or process metrics")
	}
	body := ts.do(t, "GET", "/metrics", adminKey, "").body
	for _, leak := range []string{"/mb.bin", "metrics-partner", "/up.bin"} {
		if strings.Contains(body, leak) {
			t.Fatalf("/metrics names %q: labels must be bounded", leak)
		}
	}

	want(t, ts.do(t, "GET", "/metrics", "", ""), 401)
	u := ts.createUser(t, `{"user":{"username":"not-admin"}}`)
	want(t, ts.do(t, "GET", "/metrics", u.User.APIKey, ""), 403)
}
