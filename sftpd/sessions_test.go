package sftpd_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/internal/coretest"
	"depot/mft"
	"depot/sftpd"
)

// The host key is generated once and reused after a restart.
func TestHostKeyPersists(t *testing.T) {
	e := openEnv(t)
	hostKey := func() string {
		conn, err := net.Dial("tcp", e.srv.ListenAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		var got string
		gossh.NewClientConn(conn, "", &gossh.ClientConfig{User: "x", HostKeyAlgorithms: []string{gossh.KeyAlgoED25519},
			HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error { got = gossh.FingerprintSHA256(k); return nil },
			Auth:            []gossh.AuthMethod{gossh.Password("x")}})
		return got
	}
	before := hostKey()
	fi, err := os.Stat(filepath.Join(e.dir, "ssh_host_ed25519_key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key file: %v %v", fi, err)
	}
	e.stop()
	e.start(t)
	if after := hostKey(); before == "" || after != before {
		t.Fatalf("host key changed across restart: %s → %s", before, after)
	}
}

// Concurrent out-of-order writes of a large file arrive intact.
func TestConcurrentWrites(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "big")
	c, _ := e.dial(t, p, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	_, data := randomFile(t, 64<<20+17)
	f, err := c.Create("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	stored, _ := e.stored(p.user, "big.bin")
	if sha(stored) != sha(data) {
		t.Fatalf("stored sha256 %s, sent %s", sha(stored), sha(data))
	}
	e.audit.Flush()
	evs, _, _ := e.auditSvc.FindEvents(context.Background(), mft.AuditFilter{Event: mft.EventFileUploaded})
	if len(evs) != 1 || evs[0].SHA256 != sha(data) {
		t.Fatalf("upload event %+v", evs)
	}
}

// 50 sessions each uploading 10 MiB at once all succeed.
func TestFiftySessions(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "many")
	_, data := randomFile(t, 10<<20)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			c, _ := e.dial(t, p)
			f, err := c.Create(fmt.Sprintf("/f%02d.bin", i))
			if err == nil {
				_, err = io.Copy(f, bytes.NewReader(data))
			}
			if err == nil {
				err = f.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if got, _ := e.stored(p.user, fmt.Sprintf("f%02d.bin", i)); sha(got) != sha(data) {
			t.Fatalf("f%02d.bin differs", i)
		}
	}
}

func pemEncode(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

// A quota cuts an upload off mid-stream with a failure, and nothing stays.
func TestQuotaCutOff(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "small", func(u *mft.User) { u.QuotaMB = 1 })
	c, _ := e.dial(t, p)
	f, err := c.Create("/over.bin")
	if err != nil {
		t.Fatal(err)
	}
	_, werr := io.Copy(f, bytes.NewReader(make([]byte, 3<<20)))
	cerr := f.Close()
	if werr == nil && cerr == nil {
		t.Fatal("an upload over the quota succeeded")
	}
	if !strings.Contains(fmt.Sprint(werr, cerr), "quota") {
		t.Fatalf("errors do not name the quota: %v / %v", werr, cerr)
	}
	if _, err := e.stored(p.user, "over.bin"); !os.IsNotExist(err) {
		t.Fatal("the refused upload was kept")
	}
	if left, _ := os.ReadDir(filepath.Join(e.dir, "tmp")); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
	st, err := c.StatVFS("/")
	if err != nil || st.TotalSpace() != 1<<20 {
		t.Fatalf("statvfs: %+v %v; want the 1 MiB quota as the size", st, err)
	}
}

// Live sessions are listed with their user and transfers, and ending one
// closes the client's connection.
func TestSessions(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) { s.MaxConnectionsPerUser = 1 })
	p := e.addUser(t, "watched")
	c, _ := e.dial(t, p)
	f, err := c.Create("/slow.bin")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("some bytes"))
	list := e.srv.Sessions()
	if len(list) != 1 || list[0].User != "watched" || list[0].IP != "127.0.0.1" || len(list[0].Transfers) != 1 ||
		list[0].Transfers[0].Path != "/slow.bin" || list[0].Transfers[0].Direction != "upload" || list[0].BytesIn == 0 {
		t.Fatalf("sessions %+v", list)
	}
	// A second session for the same user is over the per-user limit.
	conn, err := gossh.Dial("tcp", e.srv.ListenAddr().String(), &gossh.ClientConfig{User: "watched",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(p.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sftp.NewClient(conn); err == nil {
		t.Fatal("a session over the per-user limit was served")
	}
	conn.Close()
	if err := e.srv.EndSession(context.Background(), "ses_nope"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("unknown session: %v", err)
	}
	admin := mft.WithOrigin(context.Background(), mft.Origin{Actor: "admin-localhost", Protocol: mft.AuditAPI})
	if err := e.srv.EndSession(admin, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if ended := coretest.Events(t, e.core, mft.EventSessionEnded); len(ended) != 1 || ended[0].Target != list[0].ID || ended[0].Actor != "admin-localhost" {
		t.Fatalf("session.ended events = %+v", ended)
	}
	if _, err := c.Stat("/"); err == nil {
		t.Fatal("the ended session still answers")
	}
	if _, err := e.stored(p.user, "slow.bin"); !os.IsNotExist(err) {
		t.Fatal("the ended session's unfinished upload was published")
	}
}

// Over max_connections a client is told why before authentication; an
// idle session is closed after idle_timeout.
func TestConnectionLimits(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) { s.MaxConnections = 1; s.IdleTimeout = 300 * time.Millisecond })
	p := e.addUser(t, "limited")
	c, _ := e.dial(t, p)
	out, err := e.sftpBatch(t, p, false, "ls")
	if err == nil || !strings.Contains(out, "Too many connections") {
		t.Fatalf("second connection: %v\n%s", err, out)
	}
	time.Sleep(time.Second) // longer than the idle timeout
	if _, err := c.ReadDir("/"); err == nil {
		t.Fatal("an idle session outlived the idle timeout")
	}
	// Its slot is free again.
	if out, err := e.sftpBatch(t, p, false, "ls"); err != nil {
		t.Fatalf("after the idle session closed: %v\n%s", err, out)
	}
}

// Close lets a transfer in flight finish before the deadline (the upload
// is published), refuses new connections, and closes idle sessions at once.
func TestGracefulShutdown(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "busy")
	idle, _ := e.dial(t, p)
	c, _ := e.dial(t, p)
	f, err := c.Create("/inflight.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("depot"), 200000)
	if _, err := f.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closed <- e.srv.Close(ctx)
	}()
	// The idle session goes first; new connections are refused.
	for {
		if _, err := idle.Stat("/"); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := net.Dial("tcp", e.srv.ListenAddr().String()); err == nil {
		t.Fatal("a new connection was accepted during shutdown")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a transfer in flight", err)
	default:
	}
	// The busy session finishes its upload.
	if _, err := f.Write(data[len(data)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := e.stored(p.user, "inflight.bin")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the upload in flight was not published intact: %d bytes, %v", len(got), err)
	}
}
