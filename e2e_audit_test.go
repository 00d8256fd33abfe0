package main

import (
	"crypto/tls"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"depot/internal/testtool"
	"depot/tlscert"
)

// ssh-audit (Debian's) finds no failure and no warning in the SSH
// daemon's defaults: no NIST-curve key exchange, encrypt-then-MAC only.
// Its one allowance: algorithms newer than the auditor ("unknown
// algorithm": ML-KEM and strict key exchange). Found by hardening II: 3
// fails (ecdh-sha2-nistp256/384/521) and 2 warnings (hmac-sha2-256/512).
func TestEndToEnd_SSHAudit(t *testing.T) {
	audit := testtool.Path(t, "ssh-audit")
	sftpAddr := freePort(t)
	startDepot(t, t.TempDir(), "DEPOT_SFTP_LISTEN="+sftpAddr)
	host, port, _ := strings.Cut(sftpAddr, ":")
	out, _ := exec.Command(audit, "-b", "-p", port, host).CombinedOutput() // exits 1–3 on findings
	text := regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(string(out), "")
	if !strings.Contains(text, "curve25519-sha256") {
		t.Fatalf("ssh-audit did not reach the server:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if (strings.Contains(line, "[fail]") || strings.Contains(line, "[warn]")) && !strings.Contains(line, "unknown algorithm") {
			t.Errorf("ssh-audit: %s", line)
		}
	}
}

// testssl.sh finds nothing of MEDIUM severity or worse in the HTTPS
// listener with a self-signed certificate, outside that certificate's own
// trust (no chain, no revocation URL); TLS 1.2 offers no CBC suite (the
// "AVERAGE" list), and the certificate is valid 825 days in all. Found by
// hardening II: ECDHE-ECDSA-AES128-SHA and -AES256-SHA were offered, and
// the certificate was valid 825 days and one hour.
func TestEndToEnd_TestSSL(t *testing.T) {
	testssl := testtool.Path(t, "testssl")
	testtool.Path(t, "openssl")
	addr := freePort(t)
	data := t.TempDir()
	startDepot(t, data, "DEPOT_HTTP_LISTEN="+addr, "DEPOT_HTTP_PUBLIC_URL=https://"+addr, "DEPOT_HTTP_TLS=self-signed")
	report := filepath.Join(t.TempDir(), "testssl.json")
	cmd := exec.Command(testssl, "--quiet", "--color", "0", "--warnings", "off", "-p", "-s", "-S", "-U", "--jsonfile", report, addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testssl: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var findings []struct{ ID, Severity, Finding string }
	if err := json.Unmarshal(raw, &findings); err != nil {
		t.Fatal(err)
	}
	ownTrust := map[string]bool{"cert_chain_of_trust": true, "cert_revocation": true, "engine_problem": true}
	seen := map[string]string{}
	for _, f := range findings {
		seen[f.ID] = f.Finding
		if ownTrust[f.ID] {
			continue
		}
		switch f.Severity {
		case "MEDIUM", "HIGH", "CRITICAL":
			t.Errorf("testssl: %s %s: %s", f.Severity, f.ID, f.Finding)
		}
	}
	if seen["cipherlist_AVERAGE"] != "not offered" || seen["cipherlist_STRONG"] != "offered" {
		t.Errorf("cipher lists: AVERAGE (CBC) %q, STRONG (AEAD) %q", seen["cipherlist_AVERAGE"], seen["cipherlist_STRONG"])
	}

	// The certificate served: 825 days from its first to its last second.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: tlscert.Suites})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 825*24*time.Hour {
		t.Errorf("the self-signed certificate is valid %s, more than 825 days", life)
	}
	// A TLS 1.2 client that offers only CBC suites is refused.
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}
	if c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: cbc}); err == nil {
		c.Close()
		t.Error("a TLS 1.2 handshake with CBC suites only was accepted")
	}
}
