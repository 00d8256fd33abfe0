package sftpd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"depot/sftpd"
)

// Hostile names over SFTP get an error and change nothing; a rename onto
// an existing file needs posix-rename, and plain rename refuses.
func TestHostileNamesAndRenames(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "hostile")
	c, _ := e.dial(t, p)
	for _, name := range []string{"/a\x00b", "/a\\b", "/" + strings.Repeat("n", 300), "/ctl\x01"} {
		if f, err := c.Create(name); err == nil {
			f.Close()
			t.Errorf("created %q", name)
		}
		if err := c.Mkdir(name); err == nil {
			t.Errorf("made folder %q", name)
		}
	}
	for _, name := range []string{"a.txt", "b.txt"} {
		f, err := c.Create("/" + name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(name))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Rename("/a.txt", "/b.txt"); err == nil {
		t.Fatal("plain rename replaced an existing file")
	}
	if err := c.PosixRename("/a.txt", "/b.txt"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.stored(p.user, "b.txt"); string(got) != "a.txt" {
		t.Fatalf("b.txt holds %q after posix-rename", got)
	}
	entries, _ := os.ReadDir(filepath.Join(e.dir, "files", p.user.Home))
	if len(entries) != 1 {
		t.Fatalf("home holds %d entries, want only b.txt", len(entries))
	}
	used, _ := e.files.Usage.Usage(context.Background(), p.user.Home)
	if used != int64(len("a.txt")) {
		t.Fatalf("usage %d after replacing, want %d", used, len("a.txt"))
	}
}

// Times are kept: `put -p` (an FSETSTAT on the open upload) and a
// setstat on a published file set the modification time; modes are
// accepted and ignored.
func TestSetstatTimes(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "keeper")
	local, _ := randomFile(t, 1000)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(local, old, old); err != nil {
		t.Fatal(err)
	}
	out, err := e.sftpBatch(t, p, false, "put -p "+local+" /kept.bin", "put "+local+" /fresh.bin", "chmod 600 /fresh.bin")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	stat := func(name string) time.Time {
		fi, err := os.Stat(filepath.Join(e.dir, "files", "users", p.user.ID, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	if got := stat("kept.bin"); !got.Equal(old) {
		t.Fatalf("put -p: mtime %v, want %v", got, old)
	}
	if got := stat("fresh.bin"); time.Since(got) > time.Hour {
		t.Fatalf("put: mtime %v, want now", got)
	}
	c, _ := e.dial(t, p)
	later := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := c.Chtimes("/fresh.bin", later, later); err != nil {
		t.Fatal(err)
	}
	if got := stat("fresh.bin"); !got.Equal(later) {
		t.Fatalf("setstat: mtime %v, want %v", got, later)
	}
	if err := c.Chtimes("/missing.bin", later, later); err == nil {
		t.Fatal("setstat on a missing file succeeded")
	}
}

// fsync@openssh.com is offered and answered: OpenSSH's `put -f` and
// pkg/sftp's File.Sync sync an upload in progress (it is made durable
// when published), and a handle that is not open is refused.
func TestFsync(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "durable")
	local, data := randomFile(t, 300<<10)
	out, err := e.sftpRun(t, p, false, []string{"-vvv"}, "put -f "+local+" /synced.bin")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{`Server supports extension "fsync@openssh.com" revision 1`, "Sent message fsync@openssh.com"} {
		if !strings.Contains(out, want) {
			t.Fatalf("sftp -vvv output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "remote fsync") {
		t.Fatalf("the server refused fsync:\n%s", out)
	}
	if got, err := e.stored(p.user, "synced.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("put -f stored %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}

	c, _ := e.dial(t, p)
	f, err := c.Create("/pkg.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync of an upload in progress: %v", err)
	}
	if _, err := e.stored(p.user, "pkg.bin"); !os.IsNotExist(err) {
		t.Fatalf("the upload is visible before close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := e.stored(p.user, "pkg.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}
	if err := f.Sync(); err == nil {
		t.Fatal("Sync of a closed handle succeeded")
	}
	r, err := c.Open("/pkg.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Sync(); err != nil {
		t.Fatalf("Sync of a download handle: %v", err)
	}
}

// With sftp.sync_uploads every upload is synced at close; uploads,
// including a resumed one, arrive intact.
func TestSyncEveryUpload(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) { s.SyncUploads = true })
	p := e.addUser(t, "always")
	local, data := randomFile(t, 9<<20+17) // past one writeback unit
	half := filepath.Join(t.TempDir(), "half.bin")
	os.WriteFile(half, data[:len(data)/2], 0o600)
	if out, err := e.sftpBatch(t, p, false, "put "+half+" /a.bin", "reput "+local+" /a.bin"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, err := e.stored(p.user, "a.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}
}

// rawSession opens the sftp subsystem and exchanges INIT and VERSION; it
// returns the channel and the extensions the server announced.
func (e *env) rawSession(t *testing.T, p partner) (io.Writer, io.Reader, map[string]string) {
	t.Helper()
	conn, err := gossh.Dial("tcp", e.srv.ListenAddr().String(), &gossh.ClientConfig{User: p.user.Username,
		Auth: []gossh.AuthMethod{gossh.PublicKeys(p.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	in.Write(packet(1, u32(3))) // SSH_FXP_INIT, version 3
	typ, body, err := readPacket(out)
	if err != nil || typ != 2 || len(body) < 4 {
		t.Fatalf("VERSION: type %d, %v", typ, err)
	}
	exts := map[string]string{}
	for rest := body[4:]; len(rest) >= 8; {
		var name, value string
		name, rest = sshString(rest)
		value, rest = sshString(rest)
		exts[name] = value
	}
	return in, out, exts
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func str(s string) []byte { return append(u32(uint32(len(s))), s...) }

// packet frames an SFTP packet of the given type.
func packet(typ byte, parts ...[]byte) []byte {
	body := []byte{typ}
	for _, p := range parts {
		body = append(body, p...)
	}
	return append(u32(uint32(len(body))), body...)
}

func readPacket(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:4])-1)
	_, err := io.ReadFull(r, body)
	return hdr[4], body, err
}

func sshString(b []byte) (string, []byte) {
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) > len(b)-4 {
		return "", nil
	}
	n := binary.BigEndian.Uint32(b)
	return string(b[4 : 4+n]), b[4+n:]
}

// Malformed extended requests end at most their own session: the server
// keeps serving, and a well-formed fsync of an unknown handle gets a
// failure status.
func TestMalformedExtendedRequests(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "fuzzy")
	in, out, exts := e.rawSession(t, p)
	if exts["fsync@openssh.com"] != "1" || exts["limits@openssh.com"] != "1" {
		t.Fatalf("VERSION extensions %v, want fsync and limits at revision 1", exts)
	}
	in.Write(packet(200, u32(7), str("fsync@openssh.com"), str("no-such-handle")))
	typ, body, err := readPacket(out)
	if err != nil || typ != 101 || len(body) < 8 || binary.BigEndian.Uint32(body) != 7 || binary.BigEndian.Uint32(body[4:]) == 0 {
		t.Fatalf("fsync of an unknown handle: type %d body %x, %v; want a failure STATUS for id 7", typ, body, err)
	}
	for name, pkt := range map[string][]byte{
		"empty packet":       u32(0),
		"empty, then 200":    append(u32(0), 200, 0, 0, 0),
		"type only":          packet(200),
		"short id":           packet(200, []byte{0, 0}),
		"name longer":        packet(200, u32(1), u32(500), []byte("fsync")),
		"fsync no handle":    packet(200, u32(1), str("fsync@openssh.com")),
		"fsync short handle": packet(200, u32(1), str("fsync@openssh.com"), u32(40), []byte("x")),
		"limits trailing":    packet(200, u32(1), str("limits@openssh.com"), []byte("junk")),
	} {
		in, out, _ := e.rawSession(t, p)
		in.Write(pkt)
		in.Write(packet(16, u32(9), str("."))) // REALPATH
		// The server either answers the REALPATH or ends the session;
		// it must not take the process down.
		for {
			typ, body, err := readPacket(out)
			if err != nil || typ == 104 && binary.BigEndian.Uint32(body) == 9 {
				break
			}
		}
		t.Logf("%s: served on", name)
	}
	c, _ := e.dial(t, p)
	if _, err := c.Getwd(); err != nil {
		t.Fatalf("a new session after malformed requests: %v", err)
	}
}
