package main

import (
	"os/exec"
	"strings"
	"testing"

	"depot/internal/testtool"
)

// metrics.listen serves /metrics without a key on its own address, in a
// form promtool accepts; on the API, /metrics wants an administrator.
func TestEndToEnd_MetricsListenAndPromtool(t *testing.T) {
	promtool := testtool.Path(t, "promtool")
	metricsAddr := freePort(t)
	p := startDepot(t, t.TempDir(), "DEPOT_METRICS_LISTEN="+metricsAddr)
	if code, _ := curl(t, "-T", "-", "-u", e2eAdminKey+":", p.url+"/api/files/content?path=/m.txt"); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	code, body := curl(t, "http://"+metricsAddr+"/metrics")
	if code != 200 || !strings.Contains(body, `depot_transfers_total{direction="upload",protocol="api",status="ok"} 1`) {
		t.Fatalf("GET /metrics on metrics.listen: %d\n%s", code, body)
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	if code, _ := curl(t, p.url+"/metrics"); code != 401 {
		t.Fatalf("GET /metrics on the API without a key: %d, want 401", code)
	}
	if code, _ := curl(t, "-u", e2eAdminKey+":", p.url+"/metrics"); code != 200 {
		t.Fatalf("GET /metrics on the API with the administrator's key: %d", code)
	}
}
