package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"depot/internal/testtool"
	"depot/tlscert"
)

// testCA is a certificate authority of a test and the leaf it signed for
// 127.0.0.1, written as PEM files.
type testCA struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	leaf                      *x509.Certificate
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	c := &testCA{caFile: filepath.Join(dir, name+"-ca.pem"), certFile: filepath.Join(dir, name+".pem"), keyFile: filepath.Join(dir, name+".key"),
		pool: x509.NewCertPool()}
	c.pool.AddCert(ca)
	c.leaf, _ = x509.ParseCertificate(der)
	os.WriteFile(c.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	return c.install(t, c.certFile, c.keyFile, der, keyDER)
}

// install writes the leaf and its key to certFile and keyFile.
func (c *testCA) install(t *testing.T, certFile, keyFile string, der, keyDER []byte) *testCA {
	t.Helper()
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// copyTo puts c's certificate and key in place of the files another CA's
// server reads.
func (c *testCA) copyTo(t *testing.T, certFile, keyFile string) {
	t.Helper()
	for from, to := range map[string]string{c.certFile: certFile, c.keyFile: keyFile} {
		b, _ := os.ReadFile(from)
		if err := os.WriteFile(to+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Rename(to+".new", to) // as a certificate tool replaces files
	}
}

// waitLog waits until the server's log says want (count times in all).
func (p *depotProcess) waitLog(t *testing.T, want string, count int) {
	t.Helper()
	for strings.Count(p.stderr.String(), want) < count {
		select {
		case err := <-p.done:
			t.Fatalf("depot exited: %v\n%s", err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// HTTPS from certificate files: curl verifies it against the test's CA,
// responses carry HSTS, plain HTTP on the redirect port is sent to the
// same path over HTTPS, and a SIGHUP serves new files to new connections
// while a download in flight finishes on its own; a broken pair is
// refused and the certificate before stays.
func TestEndToEnd_HTTPSCertificateFilesAndReload(t *testing.T) {
	dir := t.TempDir()
	one, two := newTestCA(t, dir, "one"), newTestCA(t, dir, "two")
	certFile, keyFile := filepath.Join(dir, "served.pem"), filepath.Join(dir, "served.key")
	one.copyTo(t, certFile, keyFile)
	addr, redirect := freePort(t), freePort(t)
	p := startDepot(t, t.TempDir(), "DEPOT_HTTP_LISTEN="+addr, "DEPOT_HTTP_PUBLIC_URL=https://"+addr,
		"DEPOT_HTTP_TLS_CERT="+certFile, "DEPOT_HTTP_TLS_KEY="+keyFile, "DEPOT_HTTP_REDIRECT_LISTEN="+redirect)
	base := "https://" + addr
	if !strings.Contains(p.output(), "HTTPS certificate SHA-256 fingerprint "+tlscert.Fingerprint(one.leaf)) {
		t.Fatalf("the start does not print the certificate's fingerprint:\n%s", p.output())
	}
	code, body := curl(t, "--cacert", one.caFile, base+"/healthz")
	if code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("GET /healthz over HTTPS: %d %s", code, body)
	}
	code, head := curl(t, "--cacert", one.caFile, "-D", "-", "-o", "/dev/null", base+"/healthz")
	if code != 200 || !regexp.MustCompile(`(?i)strict-transport-security: max-age=\d+`).MatchString(head) {
		t.Fatalf("no HSTS header over HTTPS: %d\n%s", code, head)
	}
	if out, err := exec.Command(testtool.Path(t, "curl"), "-sS", "-o", "/dev/null", base+"/healthz").CombinedOutput(); err == nil {
		t.Fatal("curl accepted the certificate without the CA that signed it")
	} else if !strings.Contains(string(out), "certificate") {
		t.Fatalf("curl without the CA: %s", out)
	}
	out, _ := exec.Command(testtool.Path(t, "curl"), "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
		"http://"+redirect+"/api/files?path=/a%20b").Output()
	if want := "308 " + base + "/api/files?path=/a%20b"; string(out) != want {
		t.Fatalf("plain HTTP on the redirect port: %q, want %q", out, want)
	}

	// A download in flight across the reload.
	data := bytes.Repeat([]byte("depot "), 2<<20)
	put := exec.Command(testtool.Path(t, "curl"), "-sS", "--cacert", one.caFile, "-u", e2eAdminKey+":x", "-X", "PUT", "--data-binary", "@-",
		base+"/api/files/content?path=/big.txt")
	put.Stdin = bytes.NewReader(data)
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("upload: %v %s", err, out)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: one.pool}, ForceAttemptHTTP2: true}}
	req, _ := http.NewRequest("GET", base+"/api/files/content?path=/big.txt", nil)
	req.SetBasicAuth(e2eAdminKey, "x")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}

	two.copyTo(t, certFile, keyFile)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "HTTPS certificate reloaded", 1)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(append(first, rest...), data) {
		t.Fatalf("the download begun before the reload: %d bytes of %d, %v", 1024+len(rest), len(data), err)
	}
	if code, _ := curl(t, "--cacert", two.caFile, base+"/healthz"); code != 200 {
		t.Fatalf("a new connection after the reload with the new CA: %d", code)
	}
	if err := exec.Command(testtool.Path(t, "curl"), "-sS", "-o", "/dev/null", "--cacert", one.caFile, base+"/healthz").Run(); err == nil {
		t.Fatal("a new connection after the reload still got the old certificate")
	}

	// A broken pair is refused; the certificate served stays.
	os.WriteFile(certFile, []byte("not a certificate"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "the HTTPS certificate was not reloaded", 1)
	if code, _ := curl(t, "--cacert", two.caFile, base+"/healthz"); code != 200 {
		t.Fatalf("after a failed reload: %d", code)
	}
}

// http.tls = "self-signed" makes a certificate on the first start whose
// fingerprint, printed at start, is the one openssl s_client sees; the
// next start serves the same one.
func TestEndToEnd_HTTPSSelfSigned(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	data := t.TempDir()
	addr := freePort(t)
	env := []string{"DEPOT_HTTP_LISTEN=" + addr, "DEPOT_HTTP_PUBLIC_URL=https://" + addr, "DEPOT_HTTP_TLS=self-signed"}
	p := startDepot(t, data, env...)
	m := regexp.MustCompile(`HTTPS certificate SHA-256 fingerprint ([0-9A-F:]{95})`).FindStringSubmatch(p.output())
	if m == nil {
		t.Fatalf("no fingerprint printed at start:\n%s", p.output())
	}
	seen := func() string {
		t.Helper()
		sc := exec.Command(openssl, "s_client", "-connect", addr, "-servername", "localhost")
		sc.Stdin = strings.NewReader("")
		pemOut, err := sc.Output()
		if err != nil {
			t.Fatalf("openssl s_client: %v", err)
		}
		x := exec.Command(openssl, "x509", "-noout", "-fingerprint", "-sha256")
		x.Stdin = bytes.NewReader(pemOut)
		out, err := x.Output()
		if err != nil {
			t.Fatalf("openssl x509: %v", err)
		}
		_, fp, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
		return fp
	}
	if got := seen(); got != m[1] {
		t.Fatalf("openssl sees %s, the start printed %s", got, m[1])
	}
	if fi, err := os.Stat(filepath.Join(data, tlscert.SelfSignedKey)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key is not kept owner-only in the data directory: %v %v", fi, err)
	}
	// depot backup finds the running server over HTTPS and trusts its
	// self-signed certificate from the data directory.
	bin, _ := buildDepot()
	backup := exec.Command(bin, "backup", "--out", filepath.Join(t.TempDir(), "depot.db"))
	backup.Env = append(os.Environ(), append(env, "DEPOT_DATA_DIR="+data, "DEPOT_API_KEY="+e2eAdminKey)...)
	if out, err := backup.CombinedOutput(); err != nil || !strings.Contains(string(out), "Wrote") {
		t.Fatalf("depot backup against the HTTPS server: %v\n%s", err, out)
	}
	p.stop(t)
	startDepot(t, data, env...)
	if got := seen(); got != m[1] {
		t.Fatalf("after a restart openssl sees %s, want the same certificate %s", got, m[1])
	}
}

// Over HTTP/2 a refused upload answers in words and leaves the
// connection to the client's other requests: the server reads the rest of
// a body of at most 8 MiB before it answers (a larger one has its stream
// reset), instead of closing the connection. Found by the first-hour
// review: "Connection: close" made Go's HTTP/2 server send GOAWAY, and
// curl printed nothing of the 422; answering before the body was read
// let curl drop the answer under load (exit 18).
func TestEndToEnd_RefusedUploadOverHTTP2(t *testing.T) {
	bin := testtool.Path(t, "curl")
	data := t.TempDir()
	addr := freePort(t)
	startDepot(t, data, "DEPOT_HTTP_LISTEN="+addr, "DEPOT_HTTP_PUBLIC_URL=https://"+addr, "DEPOT_HTTP_TLS=self-signed")
	big := filepath.Join(t.TempDir(), "big.iso")
	os.WriteFile(big, bytes.Repeat([]byte("i"), 3<<20), 0o600)
	d := "https://" + addr
	curl := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"-sv", "--http2", "--cacert", filepath.Join(data, tlscert.SelfSignedCert),
			"--user", e2eAdminKey + ":x"}, args...)...)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	curl("-d", `{"folder":{"path":"/in","allowed_extensions":["csv"]}}`, d+"/admin/folders")
	curl("-d", `{"path":"/in"}`, d+"/api/folders")
	out := curl("-T", big, d+"/api/files/content?path=/in/big.iso", "--next", "--user", e2eAdminKey+":x",
		"--cacert", filepath.Join(data, tlscert.SelfSignedCert), d+"/healthz")
	if !strings.Contains(out, "< HTTP/2 422") || !strings.Contains(out, "only accepts files ending in .csv") {
		t.Fatalf("the refusal was not answered in words over HTTP/2:\n%s", out)
	}
	// The refused body (3 MiB, under the drain limit) was read before the
	// answer, so curl was not cut off mid-send, whatever the timing.
	if strings.Contains(out, "before end of send") || strings.Contains(out, "bytes remaining to read") {
		t.Fatalf("the answer came before the body was read:\n%s", out)
	}
	if strings.Contains(out, "GOAWAY") || !strings.Contains(out, "Re-using existing connection") || !strings.Contains(out, `"status":"ok"`) {
		t.Fatalf("the connection did not serve the next request:\n%s", out)
	}
}
