package sftpd_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/auth"
	"depot/config"
	"depot/core"
	"depot/files"
	"depot/internal/coretest"
	"depot/internal/testtool"
	"depot/mft"
	"depot/sftpd"
	"depot/store"
)

// env is a running SFTP server over Depot's services on a real data
// directory (core.Open), without the HTTP server.
type env struct {
	core     *core.Services
	srv      *sftpd.Server
	dir      string
	users    *store.UserStore
	defender *auth.Defender
	audit    *store.AuditLog
	auditSvc *store.AuditStore
	files    *files.Service
	db       *store.DB
}

// openEnv starts Depot on a new data directory, with each edit applied to
// the SFTP server before it listens.
func openEnv(t *testing.T, edit ...func(*sftpd.Server)) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	e.start(t, edit...)
	t.Cleanup(e.stop)
	return e
}

// start starts Depot on e's data directory (again, after stop).
func (e *env) start(t *testing.T, edit ...func(*sftpd.Server)) {
	t.Helper()
	cfg := coretest.Config(e.dir)
	cfg.SFTP.IdleTimeout = config.Duration(time.Minute)
	cfg.SFTP.MaxConnections, cfg.SFTP.MaxConnectionsPerUser, cfg.SFTP.MaxTransfers = 100, 60, 8
	cfg.SFTP.Ciphers = []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr"}
	cfg.Defender.MaxFailures, cfg.Defender.Window, cfg.Defender.BanTime = 3, config.Duration(time.Minute), config.Duration(time.Hour)
	a := coretest.Start(t, cfg)
	srv := &sftpd.Server{Addr: cfg.SFTP.Listen, HostKeyDir: cfg.Data.Dir, Files: a.Files, Auth: a.Auth, Users: a.Users, Events: a.Events,
		IdleTimeout: cfg.SFTP.IdleTimeout.D(), MaxConnections: cfg.SFTP.MaxConnections, MaxConnectionsPerUser: cfg.SFTP.MaxConnectionsPerUser,
		MaxTransfers: cfg.SFTP.MaxTransfers, MaxUnauthenticatedPerIP: cfg.SFTP.MaxUnauthenticatedPerIP, LoginGrace: cfg.SFTP.LoginGraceTime.D(),
		Ciphers: cfg.SFTP.Ciphers, KeyExchanges: cfg.SFTP.KeyExchanges, MACs: cfg.SFTP.MACs, SyncUploads: cfg.SFTP.SyncUploads}
	for _, f := range edit {
		f(srv)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	*e = env{core: a, srv: srv, dir: e.dir, users: a.Users, defender: a.Defender, audit: a.AuditLog,
		auditSvc: a.AuditStore, files: a.Files, db: a.DB}
}

// stop stops the SFTP server and closes the data directory; stopping
// twice is harmless.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.srv.Close(ctx)
	coretest.Close(e.core)
	e.srv = nil
}

func (e *env) port() string {
	_, p, _ := net.SplitHostPort(e.srv.ListenAddr().String())
	return p
}

// partner is a user with a password and an ed25519 key on disk.
type partner struct {
	user    *mft.User
	keyFile string
	signer  gossh.Signer
}

const password = "Correct-horse-9"

func (e *env) addUser(t *testing.T, username string, edit ...func(*mft.User)) partner {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	block, _ := gossh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(keyFile, pemEncode(block), 0o600)
	hash, _ := auth.HashPassword(password)
	u := &mft.User{ID: username, Username: username, Role: mft.RoleUser, Home: "/users/" + username, Active: true,
		Protocols: mft.DefaultProtocols, PasswordHash: hash, SSHKeys: []string{strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))}}
	for _, f := range edit {
		f(u)
	}
	if err := e.users.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	signer, _ := gossh.NewSignerFromKey(priv)
	return partner{user: u, keyFile: keyFile, signer: signer}
}

// sftpBatch runs OpenSSH's sftp client in batch mode and returns its
// output and error.
func (e *env) sftpBatch(t *testing.T, p partner, usePassword bool, commands ...string) (string, error) {
	t.Helper()
	return e.sftpRun(t, p, usePassword, nil, commands...)
}

// sftpRun is sftpBatch with more options for the client.
func (e *env) sftpRun(t *testing.T, p partner, usePassword bool, options []string, commands ...string) (string, error) {
	t.Helper()
	bin := testtool.Path(t, "sftp")
	batch := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(batch, []byte(strings.Join(commands, "\n")+"\n"), 0o600)
	known := filepath.Join(e.dir, "known_hosts_test")
	// BatchMode=no must come before -b, which turns it on (and ssh keeps
	// the first value), or password logins are never tried.
	args := []string{"-o", "BatchMode=no", "-b", batch, "-P", e.port(), "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=" + known,
		"-o", "ConnectTimeout=10"}
	args = append(args, options...)
	var cmd *exec.Cmd
	if usePassword {
		sshpass := testtool.Path(t, "sshpass")
		args = append(args, "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no")
		cmd = exec.Command(sshpass, append([]string{"-e", bin}, append(args, p.user.Username+"@127.0.0.1")...)...)
		cmd.Env = append(os.Environ(), "SSHPASS="+password)
	} else {
		args = append(args, "-i", p.keyFile, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey")
		cmd = exec.Command(bin, append(args, p.user.Username+"@127.0.0.1")...)
	}
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

func randomFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), fmt.Sprintf("file-%d.bin", size))
	os.WriteFile(p, data, 0o600)
	return p, data
}

func (e *env) stored(u *mft.User, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(e.dir, "files", u.Home, name))
}

// dial connects with pkg/sftp's client.
func (e *env) dial(t *testing.T, p partner, opts ...sftp.ClientOption) (*sftp.Client, *gossh.Client) {
	t.Helper()
	conn, err := gossh.Dial("tcp", e.srv.ListenAddr().String(), &gossh.ClientConfig{User: p.user.Username,
		Auth: []gossh.AuthMethod{gossh.PublicKeys(p.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn, opts...)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, conn
}

func TestOpenSSH_KeyLoginAndOperations(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "acme")
	local, data := randomFile(t, 3<<20+123)
	back := filepath.Join(t.TempDir(), "back.bin")
	out, err := e.sftpBatch(t, p, false,
		"put "+local+" report.bin",
		"mkdir in",
		"rename report.bin in/report.bin",
		"ls -l in",
		"get in/report.bin "+back,
		"put "+local+" gone.bin",
		"rm gone.bin",
		"mkdir empty",
		"rmdir empty",
		"df",
	)
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(back)
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, differ from the %d uploaded", len(got), len(data))
	}
	stored, err := e.stored(p.user, "in/report.bin")
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("stored file: %v", err)
	}
	for _, name := range []string{"gone.bin", "empty", "report.bin"} {
		if _, err := e.stored(p.user, name); !os.IsNotExist(err) {
			t.Errorf("%s still exists: %v", name, err)
		}
	}
	e.audit.Flush()
	evs, _, _ := e.auditSvc.FindEvents(context.Background(), mft.AuditFilter{Protocol: mft.AuditSFTP})
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Event)
		if ev.Event == mft.EventFileUploaded && ev.Path == "/users/acme/report.bin" && ev.SHA256 != sha(data) {
			t.Errorf("uploaded event sha256 %s, want %s", ev.SHA256, sha(data))
		}
	}
	for _, want := range []string{mft.EventUserLogin, mft.EventFileUploaded, mft.EventFileRenamed, mft.EventFileDownloaded, mft.EventFileDeleted, mft.EventFolderDeleted} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("audit has %v, missing %s", kinds, want)
		}
	}
}

func TestOpenSSH_PasswordLogin(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "pw")
	local, data := randomFile(t, 1000)
	if out, err := e.sftpBatch(t, p, true, "put "+local+" a.bin"); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if got, _ := e.stored(p.user, "a.bin"); !bytes.Equal(got, data) {
		t.Fatal("password login upload not stored")
	}
}

// The user's tree is the root: "..", absolute host paths and symlinks
// lead nowhere else.
func TestOpenSSH_Chroot(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "jail")
	other := e.addUser(t, "neighbour")
	os.MkdirAll(filepath.Join(e.dir, "files", other.user.Home), 0o700)
	os.WriteFile(filepath.Join(e.dir, "files", other.user.Home, "secret.txt"), []byte("secret"), 0o600)
	os.MkdirAll(filepath.Join(e.dir, "files", p.user.Home), 0o700)
	os.Symlink("/etc", filepath.Join(e.dir, "files", p.user.Home, "etc-link"))
	out, _ := e.sftpBatch(t, p, false,
		"cd /..", "pwd", "ls -a",
		"-get ../neighbour/secret.txt",
		"-get /etc/passwd",
		"-get ../../../../etc/passwd",
		"-get etc-link/passwd",
		"-ls etc-link",
		"-symlink /etc/passwd mylink",
		"-ln /etc/passwd hard",
	)
	if !strings.Contains(out, "Remote working directory: /\n") {
		t.Fatalf("cd /.. left the root:\n%s", out)
	}
	if strings.Contains(out, "root:") || strings.Contains(out, "secret") && !strings.Contains(out, "secret.txt") {
		t.Fatalf("read outside the tree:\n%s", out)
	}
	for _, f := range []string{"secret.txt", "passwd"} {
		if _, err := os.Stat(filepath.Join(t.TempDir(), f)); err == nil {
			t.Fatalf("downloaded %s", f)
		}
	}
	if !strings.Contains(out, "ermission denied") {
		t.Fatalf("symlink and link not refused with a permission error:\n%s", out)
	}
	if _, err := os.Lstat(filepath.Join(e.dir, "files", p.user.Home, "mylink")); !os.IsNotExist(err) {
		t.Fatal("symlink created")
	}
}

func TestOpenSSH_Refusals(t *testing.T) {
	e := openEnv(t)
	inactive := e.addUser(t, "off", func(u *mft.User) { u.Active = false })
	noSFTP := e.addUser(t, "apionly", func(u *mft.User) { u.Protocols = []string{mft.ProtocolAPI} })
	for _, p := range []partner{inactive, noSFTP} {
		if out, err := e.sftpBatch(t, p, false, "ls"); err == nil {
			t.Fatalf("%s logged in:\n%s", p.user.ID, out)
		}
	}
	// Wrong passwords get the IP banned; then even the right key is refused
	// before authentication, with the reason.
	good := e.addUser(t, "good")
	for range 3 { // the defender bans at 3 failures
		e.wrongPassword(t, "good")
	}
	out, err := e.sftpBatch(t, good, false, "ls")
	if err == nil || !strings.Contains(out, "banned") {
		t.Fatalf("banned IP: err %v\n%s", err, out)
	}
}

// wrongPassword tries one password login that must fail.
func (e *env) wrongPassword(t *testing.T, username string) {
	t.Helper()
	_, err := gossh.Dial("tcp", e.srv.ListenAddr().String(), &gossh.ClientConfig{User: username,
		Auth: []gossh.AuthMethod{gossh.Password("wrong")}, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err == nil {
		t.Fatal("wrong password accepted")
	}
}

// An upload killed mid-way leaves no file and no staging file.
func TestOpenSSH_KilledUpload(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "kill")
	c, conn := e.dial(t, p)
	f, err := c.Create("/partial.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat("/partial.bin"); err != nil { // FSTAT-style stat of the open upload answers
		t.Fatalf("stat of the upload in progress: %v", err)
	}
	if _, err := e.stored(p.user, "partial.bin"); !os.IsNotExist(err) {
		t.Fatal("a half-written upload is visible")
	}
	conn.Close() // the client dies without closing the file
	for range 200 {
		if n := len(e.srv.Sessions()); n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := e.stored(p.user, "partial.bin"); !os.IsNotExist(err) {
		t.Fatal("the killed upload was published")
	}
	if left, _ := os.ReadDir(filepath.Join(e.dir, "tmp")); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
}
