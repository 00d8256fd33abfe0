package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/internal/testpeer"
)

// sftpConnection creates a connection to the sshd peer and returns its id.
func (ts *testServer) sftpConnection(t *testing.T, peer *testpeer.SSHD) string {
	t.Helper()
	return ts.sftpConnectionAt(t, peer, peer.Port)
}

// sftpConnectionAt is sftpConnection through port (a relay to the peer).
func (ts *testServer) sftpConnectionAt(t *testing.T, peer *testpeer.SSHD, port int) string {
	t.Helper()
	key, _ := json.Marshal(peer.PrivateKey)
	r := ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"partner","type":"sftp","host":"127.0.0.1",
		"port":%d,"username":%q,"private_key":%s,"host_key":%q,"base_path":%q}}`, port, peer.User, key, peer.HostKey, peer.Dir))
	want(t, r, 201)
	return ts.fieldsOf(t, r, "connection")["id"].(string)
}

// partnerSFTP logs a new user in to Depot's SFTP server.
func (ts *testServer) partnerSFTP(t *testing.T, name string) *sftp.Client {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	ts.createUser(t, fmt.Sprintf(`{"user":{"username":%q,"ssh_keys":[%q]}}`, name, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))))
	signer, _ := gossh.NewSignerFromKey(priv)
	conn, err := gossh.Dial("tcp", ts.app.SFTP.ListenAddr().String(), &gossh.ClientConfig{User: name,
		Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A partner uploads ledger.csv by SFTP; an automation encrypts it for
// finance and pushes it to the partner's sshd: the file there decrypts
// with gpg to the original, no temporary file is left, and the run
// records the remote step.
func TestConnections_PushEncryptedToSSHD(t *testing.T) {
	peer := testpeer.StartSSHD(t)
	home, pub := testpeer.GPG(t)
	ts := MustOpenServer(t)
	conn := ts.sftpConnection(t, peer)
	pubJSON, _ := json.Marshal(pub)
	id := ts.createAutomation(t, `{"automation":{"name":"push","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"name","pattern":"*.csv"}],
		"actions":[{"type":"pgp_encrypt","public_key":`+string(pubJSON)+`},{"type":"upload","connection":"`+conn+`","to":"/outbox/{YYYY}/"}]}}`)

	c := ts.partnerSFTP(t, "ledgers")
	ledger := "date,amount\n2026-11-30,1250.00\n" + strings.Repeat("x", 3<<20)
	f, err := c.Create("/ledger.csv")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(ledger))
	f.Close()

	r := ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "succeeded" || len(r.Steps) != 2 {
		t.Fatalf("run %+v", r)
	}
	remote := filepath.Join(peer.Dir, "outbox", time.Now().UTC().Format("2006"), "ledger.csv.pgp")
	if out := testpeer.GPGDecrypt(t, home, remote); string(out) != ledger {
		t.Fatalf("the pushed file decrypts to %d bytes, want the %d sent", len(out), len(ledger))
	}
	entries, _ := os.ReadDir(filepath.Dir(remote))
	if len(entries) != 1 {
		t.Fatalf("the remote folder holds %d entries (temporary files left?)", len(entries))
	}
	raw := ts.do(t, "GET", "/admin/automations/"+id+"/runs", adminKey, "")
	if !strings.Contains(raw.body, `"connection":"`+conn+`"`) || !strings.Contains(raw.body, `"remote":"/outbox/`) || !strings.Contains(raw.body, `"bytes":`) {
		t.Fatalf("the run does not record the remote step: %s", raw.body)
	}
	// Without keep_original the local copy is gone once pushed.
	if _, err := c.Stat("/ledger.csv.pgp"); err == nil {
		t.Fatal("the pushed file is still in Depot")
	}
}

// A scheduled automation whose source is a folder on vsftpd polls it
// every second: each new file is fetched once, and the actions run on the
// fetched files that meet the conditions.
func TestConnections_ScheduledPullFromVsftpd(t *testing.T) {
	peer := testpeer.StartVSFTPD(t, testpeer.FTPPlain)
	outbox := filepath.Join(peer.Dir, "outbox")
	os.Mkdir(outbox, 0o755)
	os.WriteFile(filepath.Join(outbox, "a.csv"), []byte("a,1\n"), 0o644)
	os.WriteFile(filepath.Join(outbox, "t.csv"), []byte("t"), 0o644)
	os.WriteFile(filepath.Join(outbox, "skip.txt"), []byte("no"), 0o644)
	ts := MustOpenServer(t)
	r := ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"ftp partner","type":"ftp","host":"127.0.0.1",
		"port":%d,"username":%q,"password":%q,"base_path":%q}}`, peer.Port, testpeer.FTPUser, testpeer.FTPPassword, peer.Dir))
	want(t, r, 201)
	conn := ts.fieldsOf(t, r, "connection")["id"].(string)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/inbox"}`), 201)
	// A local source takes no remote fields; a remote one needs its folder.
	r = ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"x","trigger":"schedule","schedule":"@every 1s",
		"source":{"path":"/shared/inbox","to":"/shared/x"},"actions":[{"type":"delete"}]}}`)
	want(t, r, 422)
	r = ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"x","trigger":"schedule","schedule":"@every 1s",
		"source":{"connection":"`+conn+`","path":"/outbox"},"actions":[{"type":"delete"}]}}`)
	if want(t, r, 422); !strings.Contains(r.body, "source.to") {
		t.Fatalf("a remote source without to: %s", r.body)
	}
	// The source polls the FTP folder every second; the files it fetches
	// that are larger than 2 bytes are copied to the archive.
	id := ts.createAutomation(t, `{"automation":{"name":"pull","trigger":"schedule","schedule":"@every 1s",
		"source":{"connection":"`+conn+`","path":"/outbox","pattern":"*.csv","to":"/shared/inbox"},
		"conditions":[{"type":"size","min":3}],"actions":[{"type":"copy","to":"/shared/archive/"}]}}`)

	waitFile := func(path, content string) {
		for {
			got := ts.do(t, "GET", "/api/files/content?path="+path, adminKey, "")
			if got.status == 200 {
				if got.body != content {
					t.Fatalf("%s has %q", path, got.body)
				}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFile("/shared/archive/a.csv", "a,1\n")
	os.WriteFile(filepath.Join(outbox, "b.csv"), []byte("b,2\n"), 0o644)
	waitFile("/shared/archive/b.csv", "b,2\n")
	// Two more ticks after b arrived: neither fetches anything again.
	n := len(ts.runs(t, id))
	for len(ts.runs(t, id)) < n+2 {
		time.Sleep(100 * time.Millisecond)
	}
	ts.app.AuditLog.Flush()
	r = ts.do(t, "GET", "/admin/audit?event=file.uploaded&path=/shared/inbox", adminKey, "")
	want(t, r, 200)
	for _, name := range []string{"a.csv", "b.csv", "t.csv"} {
		if n := strings.Count(r.body, "/shared/inbox/"+name); n != 1 {
			t.Fatalf("%s fetched %d times, want once: %s", name, n, r.body)
		}
	}
	if got := ts.do(t, "GET", "/api/files/stat?path=/shared/inbox/skip.txt", adminKey, ""); got.status != 404 {
		t.Fatal("a file outside the pattern was fetched")
	}
	// t.csv was fetched but is below the size condition: not archived.
	if got := ts.do(t, "GET", "/api/files/stat?path=/shared/archive/t.csv", adminKey, ""); got.status != 404 {
		t.Fatal("a file that fails the conditions went through the actions")
	}
	for _, run := range ts.runs(t, id) {
		if run.Run.Status == "failed" {
			t.Fatalf("a poll failed: %s", run.Run.Error)
		}
	}
}

// A push to a peer that is down fails and is retried; once the peer is
// back the run succeeds, with one file on the peer and none left over.
func TestConnections_RetryUntilPeerIsBack(t *testing.T) {
	peer := testpeer.StartSSHD(t)
	ts := MustOpenServer(t)
	conn := ts.sftpConnection(t, peer)
	id := ts.createAutomation(t, `{"automation":{"name":"push","trigger":"manual","retry":{"attempts":20},
		"actions":[{"type":"upload","connection":"`+conn+`","to":"/in/","keep_original":true}]}}`)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/report.csv", adminKey, "a,b\n"), 201)
	peer.Stop()
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/report.csv"}`), 202)
	for {
		runs := ts.runs(t, id)
		// Waiting for its next attempt, the run says why the last failed
		// (a running attempt has no error yet).
		if len(runs) == 1 && runs[0].Run.Attempt >= 2 && runs[0].Run.Status == "queued" {
			if !strings.Contains(runs[0].Run.Error, "partner") || strings.Contains(runs[0].Run.Error, "PRIVATE") {
				t.Fatalf("the failure: %q", runs[0].Run.Error)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	peer.Start(t)
	r := ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "succeeded" {
		t.Fatalf("run %+v", r)
	}
	entries, _ := os.ReadDir(filepath.Join(peer.Dir, "in"))
	if len(entries) != 1 || entries[0].Name() != "report.csv" {
		t.Fatalf("the peer holds %v", entries)
	}
	if data, _ := os.ReadFile(filepath.Join(peer.Dir, "in", "report.csv")); string(data) != "a,b\n" {
		t.Fatalf("the peer has %q", data)
	}
}
