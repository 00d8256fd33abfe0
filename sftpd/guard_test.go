package sftpd_test

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"depot/mft"
	"depot/sftpd"
)

// 30 parallel password guesses over SSH from one address get at most
// max_failures (3 here) answers; the others are refused unchecked.
// Found by the hardening review: 16 guesses instead of 11.
func TestDefender_ParallelSSHGuesses(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) { s.MaxUnauthenticatedPerIP = 50 })
	e.addUser(t, "target")
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			c, err := gossh.Dial("tcp", e.srv.ListenAddr().String(), &gossh.ClientConfig{User: "target",
				Auth: []gossh.AuthMethod{gossh.Password("wrong-guess")}, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
			if err == nil {
				c.Close()
				t.Error("a wrong password logged in")
			}
		})
	}
	wg.Wait()
	e.audit.Flush()
	list, _, err := e.auditSvc.FindEvents(t.Context(), mft.AuditFilter{Event: mft.EventUserLoginFailed, Page: mft.Page{Limit: 1000}})
	if err != nil || len(list) > 3 {
		t.Fatalf("%d passwords checked (%v), want at most 3", len(list), err)
	}
	if _, banned := e.defender.Banned(netip.MustParseAddr("127.0.0.1")); !banned {
		t.Fatal("not banned")
	}
}

// Connections that are logging in are limited per address: past the
// limit they wait for a place, and past ten times as many waiting they are refused
// with the reason; once the others are gone, logins work again.
func TestUnauthenticatedConnectionsPerIP(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) {
		s.MaxUnauthenticatedPerIP, s.LoginGrace, s.MaxConnections = 2, 20*time.Second, 100
	})
	p := e.addUser(t, "busy")
	var held []net.Conn
	for i := range 2 + 2*10 { // 2 logging in, 10 waiting for each place
		c, err := net.Dial("tcp", e.srv.ListenAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
		if i < 2 { // admitted: the server sends its version line
			line := make([]byte, len("SSH-2.0-Depot"))
			if _, err := io.ReadFull(c, line); err != nil || string(line) != "SSH-2.0-Depot" {
				t.Fatalf("admitted connection: %q %v", line, err)
			}
		}
	}
	out, err := e.sftpBatch(t, p, false, "ls")
	if err == nil || !strings.Contains(out, "logging in at once (limit 2)") {
		t.Fatalf("23rd connection: err %v\n%s", err, out)
	}
	for _, c := range held {
		c.Close()
	}
	if out, err := e.sftpBatch(t, p, false, "ls"); err != nil {
		t.Fatalf("after the others left: %v\n%s", err, out)
	}
}

// A connection that does not log in within the grace time is closed.
func TestLoginGrace(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) { s.LoginGrace = 200 * time.Millisecond })
	c, err := net.Dial("tcp", e.srv.ListenAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("SSH-2.0-Idle\r\n"))
	// The server's version line and key exchange, then EOF when it hangs up.
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("read until closed: %v", err)
	}
}

// Silent connections from a few addresses never lock out a partner from
// another: the addresses together hold at most half of max_connections
// logging in or waiting, and past that only an address holding none is
// admitted. Found by hardening II: 500 silent connections from 5
// addresses refused every SFTP login, from any address, for two minutes.
func TestPreLoginFromFewAddressesLocksNoOneOut(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) {
		// A grace longer than the test: the held connections stay held,
		// so every other one is refused at once, whatever the load.
		s.MaxUnauthenticatedPerIP, s.LoginGrace, s.MaxConnections = 2, time.Hour, 40
	})
	p := e.addUser(t, "partner")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// A refused connection hears the reason and is closed; an admitted or
	// waiting one stays open (until the test ends, or its grace).
	refusals := make(chan struct{}, 125)
	for a := 2; a <= 6; a++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(a))}}
		for range 25 {
			c, err := d.Dial("tcp", e.srv.ListenAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
			go func() {
				// Refused for logging in at once, or, under load, for
				// max_connections: either says "Too many connections".
				if said, _ := io.ReadAll(c); strings.Contains(string(said), "Too many connections") {
					refusals <- struct{}{}
				}
			}()
		}
	}
	// Held: the 20 (half of 40) that may log in or wait, and past those
	// at most the first of each address that held none; so at least 100 of
	// the 125 are refused (a server that refuses fewer never gets here).
	for range 125 - (20 + 5) {
		<-refusals
	}
	if out, err := e.sftpBatch(t, p, false, "ls"); err != nil {
		t.Fatalf("a partner from a sixth address was locked out: %v\n%s", err, out)
	}
}

// The defaults offer no NIST-curve key exchange and no encrypt-and-MAC
// MAC, so a client that has only those is refused; sftp.key_exchanges
// and sftp.macs let an administrator add them for old clients.
func TestOlderAlgorithmsOnlyWhenConfigured(t *testing.T) {
	old := gossh.Config{KeyExchanges: []string{gossh.KeyExchangeECDHP256}, Ciphers: []string{"aes128-ctr"}, MACs: []string{gossh.HMACSHA256}}
	dial := func(e *env) error {
		p := e.addUser(t, "old-client")
		c, err := gossh.Dial("tcp", e.srv.ListenAddr().String(), &gossh.ClientConfig{User: p.user.Username, Config: old,
			Auth: []gossh.AuthMethod{gossh.Password(password)}, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(openEnv(t)); err == nil || !strings.Contains(err.Error(), "no common algorithm") {
		t.Fatalf("a client with only ECDH P-256 and hmac-sha2-256 under the defaults: %v", err)
	}
	e := openEnv(t, func(s *sftpd.Server) {
		s.KeyExchanges = []string{"curve25519-sha256", gossh.KeyExchangeECDHP256}
		s.MACs = []string{gossh.HMACSHA256ETM, gossh.HMACSHA256}
	})
	if err := dial(e); err != nil {
		t.Fatalf("the same client once they are configured: %v", err)
	}
}
