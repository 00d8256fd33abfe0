package sftpd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/files"
	"depot/mft"
	"depot/store"
)

// Truncate works on a file being uploaded (shorter and longer, with the
// right checksum) and is refused with a message on a stored file. Found
// by the hardening review: a truncate to a larger size answered success
// and changed nothing.
func TestTruncate(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "trunc")
	c, _ := e.dial(t, p)

	f, err := c.Create("/cut.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 10)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(40); err != nil { // FSETSTAT with a size
		t.Fatalf("truncate an upload: %v", err)
	}
	if err := f.Truncate(60); err != nil {
		t.Fatalf("grow an upload: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wantData := append(append([]byte{}, data[:40]...), make([]byte, 20)...)
	if got, _ := e.stored(p.user, "cut.bin"); !bytes.Equal(got, wantData) {
		t.Fatalf("stored %q", got)
	}
	e.audit.Flush()
	evs, _, _ := e.auditSvc.FindEvents(t.Context(), mft.AuditFilter{Event: mft.EventFileUploaded})
	if len(evs) != 1 || evs[0].SHA256 != sha(wantData) || evs[0].Size != 60 {
		t.Fatalf("upload event %+v", evs)
	}

	// A stored file: the same size is fine, another is refused with why.
	if err := c.Truncate("/cut.bin", 60); err != nil {
		t.Fatalf("truncate to the same size: %v", err)
	}
	for _, size := range []int64{10, 1000} {
		err := c.Truncate("/cut.bin", size)
		if err == nil || !strings.Contains(err.Error(), "cannot be resized in place") {
			t.Fatalf("truncate a stored file to %d: %v", size, err)
		}
	}
	if got, _ := e.stored(p.user, "cut.bin"); !bytes.Equal(got, wantData) {
		t.Fatal("a refused truncate changed the file")
	}
}

// Names that are not UTF-8, or that carry bidirectional controls, are
// refused with the rule; nothing is created.
func TestHostileNames(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "names")
	c, _ := e.dial(t, p)
	for name, rule := range map[string]string{
		"/bad\xff.txt":          "not valid UTF-8",
		"/invoice\u202efdp.exe": "bidirectional control",
		"/x\u2067y":             "bidirectional control",
	} {
		_, err := c.Create(name)
		if err == nil || !strings.Contains(err.Error(), rule) {
			t.Fatalf("create %q: %v, want %q", name, err, rule)
		}
		if err := c.Mkdir(name); err == nil || !strings.Contains(err.Error(), rule) {
			t.Fatalf("mkdir %q: %v", name, err)
		}
	}
	entries, err := os.ReadDir(e.dir + "/files/users/names")
	if err == nil && len(entries) != 0 {
		t.Fatalf("created %v", entries)
	}
}

// An SFTP upload refused by a folder rule is in the audit log as denied,
// with the reason, and the client is told the reason.
func TestRefusedUploadAudited(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "ruled")
	rule := &mft.Folder{Path: "/users/ruled", AllowedExtensions: []string{"csv"}}
	if err := store.NewFolderStore(e.db).CreateFolder(t.Context(), rule); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "nov.pdf")
	os.WriteFile(src, []byte("%PDF"), 0o600)
	out, err := e.sftpBatch(t, p, false, "put "+src+" /nov.pdf")
	if err == nil {
		t.Fatalf("a .pdf was accepted under a csv-only rule:\n%s", out)
	}
	if !strings.Contains(out, "depot: / only accepts files ending in .csv.") {
		t.Errorf("OpenSSH's sftp did not print the reason:\n%s", out)
	}
	e.audit.Flush()
	evs, _, _ := e.auditSvc.FindEvents(t.Context(), mft.AuditFilter{Event: mft.EventFileUploaded, Status: mft.StatusDenied})
	if len(evs) != 1 || evs[0].Path != "/users/ruled/nov.pdf" || evs[0].Actor != "ruled" || evs[0].Protocol != "sftp" ||
		!strings.Contains(evs[0].Message, ".csv") {
		t.Fatalf("denied events %+v", evs)
	}
}

// The user id shown everywhere is a login name too, beside the username.
func TestLoginByID(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "byid", func(u *mft.User) { u.ID, u.Username = "joe-user-company-com", "joe" })
	p.user.Username = "joe-user-company-com" // sftpBatch logs in with this name
	if out, err := e.sftpBatch(t, p, true, "ls"); err != nil {
		t.Fatalf("password login by id: %v\n%s", err, out)
	}
	if out, err := e.sftpBatch(t, p, false, "ls"); err != nil {
		t.Fatalf("key login by id: %v\n%s", err, out)
	}
}

// Keyboard-interactive (WinSCP, FileZilla) asks for the password in one
// prompt; a wrong answer fails and counts like a wrong password.
func TestKeyboardInteractive(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "kbd")
	dial := func(answer string) error {
		conn, err := gossh.Dial("tcp", e.srv.ListenAddr().String(), &gossh.ClientConfig{User: p.user.Username,
			Auth: []gossh.AuthMethod{gossh.KeyboardInteractive(func(user, instruction string, questions []string, echos []bool) ([]string, error) {
				if len(questions) != 1 || !strings.Contains(questions[0], "Password") || echos[0] {
					t.Errorf("prompt %q %v", questions, echos)
				}
				return []string{answer}, nil
			})},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
		if err != nil {
			return err
		}
		defer conn.Close()
		c, err := sftp.NewClient(conn)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.ReadDir("/")
		return err
	}
	if err := dial(password); err != nil {
		t.Fatalf("keyboard-interactive with the password: %v", err)
	}
	if err := dial("wrong"); err == nil {
		t.Fatal("keyboard-interactive with a wrong password logged in")
	}
	e.audit.Flush()
	evs, _, _ := e.auditSvc.FindEvents(t.Context(), mft.AuditFilter{Event: mft.EventUserLoginFailed})
	if len(evs) != 1 || evs[0].Protocol != "sftp" {
		t.Fatalf("failed logins %+v", evs)
	}
}

// df for a user whose home is under a quota'd folder (a bucket's quota is
// a folder rule on /buckets/<id>) shows that quota, not the host disk.
func TestStatVFSFolderQuota(t *testing.T) {
	e := openEnv(t)
	rule := &mft.Folder{Path: "/buckets/buc_test", QuotaMB: 2}
	if err := store.NewFolderStore(e.db).CreateFolder(t.Context(), rule); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.dir, "files", "buckets", "buc_test"), 0o700)
	p := e.addUser(t, "acme-ops", func(u *mft.User) { u.Home = "/buckets/buc_test" })
	c, _ := e.dial(t, p)
	st, err := c.StatVFS("/")
	if err != nil || st.TotalSpace() != 2<<20 || st.FreeSpace() != 2<<20 {
		t.Fatalf("statvfs: total %d free %d (%v); want the bucket's 2 MiB", st.TotalSpace(), st.FreeSpace(), err)
	}
}

// OpenSSH's sftp prints only a status code's text ("Permission denied"),
// so the reason of every refusal also goes to the session's stderr, which
// it prints: a folder rule, a read-only mount (mkdir, rename, put) and a
// quota, each naming paths as the user sees them, never storage paths.
func TestOpenSSH_ToldWhy(t *testing.T) {
	e := openEnv(t)
	ctx := t.Context()
	p := e.addUser(t, "told", func(u *mft.User) { u.QuotaMB = 1 })
	admin := files.Actor{User: &mft.User{ID: "admin", Role: mft.RoleAdmin, Active: true}, Protocol: mft.AuditAPI}
	if _, err := e.files.Mkdir(ctx, admin, "/shared/archive"); err != nil {
		t.Fatal(err)
	}
	if err := store.NewPermissionStore(e.db).CreatePermission(ctx, &mft.Permission{Subject: "user:told", Path: "/shared/archive",
		Permissions: []string{mft.PermList, mft.PermDownload}, Mount: "archive"}); err != nil {
		t.Fatal(err)
	}
	if err := store.NewFolderStore(e.db).CreateFolder(ctx, &mft.Folder{Path: "/users/told/in", AllowedExtensions: []string{"csv", "pgp"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, size := range map[string]int{"nov.pdf": 4, "nov.csv": 4, "big.csv": 2 << 20} {
		os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o600)
	}
	out, _ := e.sftpBatch(t, p, false,
		"mkdir /in",
		"-put "+dir+"/nov.pdf /in/nov.pdf",
		"put "+dir+"/nov.csv /nov.csv",
		"-mkdir /archive/2026",
		"-rename /nov.csv /archive/nov.csv",
		"-put "+dir+"/nov.csv /archive/nov.csv",
		"-put "+dir+"/big.csv /big.csv",
	)
	for _, reason := range []string{
		"depot: /in only accepts files ending in .csv, .pgp",
		"depot: You do not have mkdir permission on /archive/2026.",
		"depot: You do not have rename permission on /archive/nov.csv.",
		"depot: You do not have upload permission on /archive/nov.csv.",
		"depot: The upload does not fit in the quota",
	} {
		if !strings.Contains(out, reason) {
			t.Errorf("the client did not print %q:\n%s", reason, out)
		}
	}
	if n := strings.Count(out, "does not fit in the quota"); n != 1 {
		t.Errorf("the quota refusal was printed %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "/shared") || strings.Contains(out, "/users/told") {
		t.Errorf("a refusal named a storage path:\n%s", out)
	}
	if n, _ := e.stored(p.user, "big.csv"); n != nil {
		t.Error("the upload over quota was kept")
	}
}
