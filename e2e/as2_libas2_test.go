package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"depot/internal/testtool"
)

// libas2 runs the libas2 peer script (testdata/as2/libas2-peer.js) with
// node, libas2 found through DEPOT_LIBAS2 (its package folder, which
// scripts/test.sh installs and sets).
func libas2(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	node := testtool.Path(t, "node")
	mod := testtool.File(t, "DEPOT_LIBAS2", "libas2 (npm)")
	script, err := filepath.Abs("testdata/as2/libas2-peer.js")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Dir(mod))
	return cmd
}

// TestAS2_RoundTripsWithLibas2 exchanges messages with a second AS2
// implementation, in both directions: libas2 sends a signed, encrypted
// file to the station and checks Depot's signed MDN; Depot sends a signed
// one to a libas2 server through an as2 connection and checks libas2's
// signed MDN. Depot → libas2 is not encrypted: libas2 0.8.2 cannot open
// enveloped data, OpenSSL's own included (its pkijs parse fails).
func TestAS2_RoundTripsWithLibas2(t *testing.T) {
	libas2(t) // node and libas2 are there, or the test ends here
	ts := MustOpenServer(t)
	s := newAS2Setup(t, ts, "ACME")
	edi := "ISA*00*          *00*          *ZZ*ACME*ZZ*DEPOT~\r\nIEA*1*000000001~\r\n"

	// libas2 → Depot.
	file := s.peer.File("invoice.x12", []byte(edi))
	out, err := libas2(t, "send", ts.URL()+"/as2", s.stationCert, s.peer.Cert, s.peer.Key, file).CombinedOutput()
	if err != nil {
		t.Fatalf("libas2 send: %v\n%s", err, out)
	}
	var got struct {
		Status      int    `json:"status"`
		Processed   bool   `json:"processed"`
		Description string `json:"description"`
		MIC         string `json:"mic"`
	}
	if err := json.Unmarshal(out, &got); err != nil || got.Status != 200 || !got.Processed || got.Description != "" || got.MIC == "" {
		t.Fatalf("libas2 read Depot's MDN as %s (%v)", out, err)
	}
	if body, ok := s.stored(t, "invoice.x12"); !ok || body != edi {
		t.Fatalf("/in/invoice.x12: %v %q", ok, body)
	}
	r := ts.do(t, "GET", "/admin/as2/messages?direction=in", adminKey, "")
	if !strings.Contains(r.body, `"mic":"`+got.MIC+`"`) {
		t.Fatalf("the MIC libas2 read (%s) is not the one recorded: %s", got.MIC, r.body)
	}

	// Depot → libas2.
	outDir := t.TempDir()
	srv := libas2(t, "serve", s.stationCert, s.peer.Cert, s.peer.Key, outDir)
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var port struct{ Port int }
	if err != nil || json.Unmarshal([]byte(line), &port) != nil || port.Port == 0 {
		t.Fatalf("libas2 serve: %q %v", line, err)
	}
	url := "http://127.0.0.1:" + itoa(port.Port) + "/as2"
	want(t, ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":{"url":"`+url+`","encrypt":false}}`), 200)
	r = ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"libas2","type":"as2","as2_partner":"`+s.partnerID+`"}}`)
	want(t, r, 201)
	conn := ts.fieldsOf(t, r, "connection")["id"].(string)
	id := ts.createAutomation(t, `{"automation":{"name":"send","trigger":"manual","retry":{"attempts":1},
		"actions":[{"type":"upload","connection":"`+conn+`","to":"/","keep_original":true}]}}`)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/order.x12", adminKey, edi), 201)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/order.x12"}`), 202)
	run := ts.waitRuns(t, id, 1)[0]
	if run.Run.Status != "succeeded" {
		errText, _ := os.ReadFile(filepath.Join(outDir, "error.txt"))
		t.Fatalf("run %s %q; libas2: %s", run.Run.Status, run.Run.Error, errText)
	}
	// libas2's MIME parser keeps the line end before the closing
	// delimiter as content (RFC 2046 gives it to the delimiter; the
	// openssl peer of TestAS2_OutboundToOpenSSL gets the exact bytes).
	if body, err := os.ReadFile(filepath.Join(outDir, "order.x12")); err != nil || strings.TrimSuffix(string(body), "\r\n") != edi {
		t.Fatalf("libas2 received %q (%v)", body, err)
	}
}
