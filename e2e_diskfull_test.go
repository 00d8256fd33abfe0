package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/internal/testtool"
)

// mountSmallDisk loop-mounts a fresh ext4 image of sizeMiB as a folder
// and unmounts it when the test ends. It needs root (scripts/test.sh runs
// as root); elsewhere it skips or fails as testtool does for a missing
// tool.
func mountSmallDisk(t *testing.T, sizeMiB int) string {
	t.Helper()
	mkfs, mount := testtool.Path(t, "mkfs.ext4"), testtool.Path(t, "mount")
	if os.Geteuid() != 0 {
		if os.Getenv(testtool.RequireEnv) == "1" {
			t.Fatal("the disk-full test loop-mounts a file system and needs root")
		}
		t.Skip("skipping: loop-mounting a small disk needs root")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o700)
	if err := os.Truncate(img, 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	f, _ := os.Create(img)
	f.Truncate(int64(sizeMiB) << 20)
	f.Close()
	if out, err := exec.Command(mkfs, "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if out, err := exec.Command(mount, "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount -o loop: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	return mnt
}

// A full disk is a clean 507 with a message over HTTP and SFTP, for file
// contents and for metadata; nothing partial is visible; /healthz says why
// it is unhealthy; the database opens after kill -9 on the full disk; and
// uploads work again once files are deleted.
func TestEndToEnd_DiskFull(t *testing.T) {
	data := mountSmallDisk(t, 64)
	sftpAddr := freePort(t)
	p := startDepot(t, data, "DEPOT_SFTP_LISTEN="+sftpAddr)
	do := httpDo
	_, key := p.createUser(t, `{"user":{"email":"full@example.com","username":"full","password":"correct-horse"}}`)

	// A chunked upload whose assembly does not fit: 507 before anything is
	// written, the pieces are kept, and the last piece sent again once
	// space is freed assembles the file.
	// Free space is left at 28 MiB: piece 0 leaves 20 (above the 16 MiB
	// under which uploads are shed), piece 1 leaves 12, fewer than the 16
	// the two pieces kept aside need to be copied.
	filler := filepath.Join(data, "filler")
	if free := diskFree(t, data); free > 28<<20 {
		os.WriteFile(filler, make([]byte, free-28<<20), 0o600)
	}
	piece := bytes.Repeat([]byte("p"), 8<<20)
	if code, body := do("PUT", p.url+"/api/files/content?path=/big.bin&chunk=0&chunks=2", key, piece); code != 202 {
		t.Fatalf("piece 0: %d %s", code, body)
	}
	code, body := do("PUT", p.url+"/api/files/content?path=/big.bin&chunk=1&chunks=2", key, piece)
	if code != 507 || !strings.Contains(body, "pieces are kept") {
		t.Fatalf("assembly on a full disk: %d %s", code, body)
	}
	os.Remove(filler)
	code, body = do("PUT", p.url+"/api/files/content?path=/big.bin&chunk=1&chunks=2", key, piece)
	if code != 201 || !strings.Contains(body, fmt.Sprintf("%x", sha256.Sum256(append(piece, piece...)))) {
		t.Fatalf("assembly after freeing space: %d %s", code, body)
	}
	if code, body := do("DELETE", p.url+"/api/files?path=/big.bin", key, nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}

	// HTTP: 4 MiB files until the disk is nearly full: under 16 MiB free
	// an upload is shed (503 with Retry-After) before a byte is written,
	// even one byte. Found by hardening II: an upload was stored at
	// 954 KB free while /healthz said 503.
	chunk := bytes.Repeat([]byte("d"), 4<<20)
	stored := 0
	for i := 0; ; i++ {
		code, body = do("PUT", fmt.Sprintf("%s/api/files/content?path=/f%02d.bin", p.url, i), key, chunk)
		if code == 201 {
			stored++
			continue
		}
		if code != 503 || !strings.Contains(body, "full") {
			t.Fatalf("upload %d on a nearly full disk: %d %s", i, code, body)
		}
		break
	}
	if stored == 0 {
		t.Fatal("nothing fitted on the disk")
	}
	if free := diskFree(t, data); free >= 16<<20 || free < 8<<20 {
		t.Fatalf("uploads were shed at %d bytes free", free)
	}
	if code, body := do("PUT", p.url+"/api/files/content?path=/one.txt", key, []byte("x")); code != 503 || !strings.Contains(body, "retry once space is freed") {
		t.Fatalf("one byte on a nearly full disk: %d %s", code, body)
	}

	// SFTP on the same full disk: a failure with the reason.
	sshConn, err := gossh.Dial("tcp", sftpAddr, &gossh.ClientConfig{User: "full", Auth: []gossh.AuthMethod{gossh.Password("correct-horse")},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	client, err := sftp.NewClient(sshConn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := client.Create("/sftp.bin")
	if err == nil {
		_, err = f.Write(chunk)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("SFTP upload on a full disk: %v", err)
	}
	client.Close()
	sshConn.Close()

	// Nothing partial: every listed file is whole, no staging file is left.
	code, body = do("GET", p.url+"/api/files?path=/", key, nil)
	var list []struct {
		File struct {
			Name string
			Size int64
		}
	}
	json.Unmarshal([]byte(body), &list)
	if code != 200 || len(list) != stored {
		t.Fatalf("list: %d, %d entries for %d stored: %s", code, len(list), stored, body)
	}
	for _, e := range list {
		if e.File.Size != int64(len(chunk)) {
			t.Fatalf("partial file listed: %+v", e.File)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(data, "tmp")); len(left) > 1 { // "chunks" may exist
		t.Fatalf("staging files left: %v", left)
	}

	// Metadata: fill what is left behind the server's back, then create
	// groups until the database must grow: 507 with a message, never 500,
	// and /healthz says why.
	ff, _ := os.Create(filler)
	io.Copy(ff, io.LimitReader(zeros{}, 64<<20)) // stops at ENOSPC
	ff.Close()
	sawFull := false
	for i := range 300 {
		code, body = do("POST", p.url+"/admin/groups", e2eAdminKey, []byte(fmt.Sprintf(`{"group":{"name":"g%d","description":"%s"}}`, i, strings.Repeat("d", 1000))))
		if code == 507 {
			if !strings.Contains(body, "the change was not saved") {
				t.Fatalf("507 without the reason: %s", body)
			}
			sawFull = true
			break
		}
		if code != 201 {
			t.Fatalf("create group %d on a full disk: %d %s", i, code, body)
		}
	}
	if !sawFull {
		t.Fatal("300 groups fitted on a full disk")
	}
	resp, err := http.Get(p.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(hb), `"reason":"The disk of the data directory is full`) && !strings.Contains(string(hb), "cannot be written") {
		t.Fatalf("healthz on a full disk: %d %s", resp.StatusCode, hb)
	}
	// Reads still work.
	if code, _ := do("GET", p.url+"/api/files/content?path=/f00.bin", key, nil); code != 200 {
		t.Fatalf("download on a full disk: %d", code)
	}

	// kill -9 on the full disk; the database opens again.
	p.cmd.Process.Kill()
	<-p.done
	p = startDepot(t, data, "DEPOT_SFTP_LISTEN="+sftpAddr)
	if code, _ := do("GET", p.url+"/api/files/content?path=/f00.bin", key, nil); code != 200 {
		t.Fatalf("download after kill -9: %d", code)
	}

	// Space freed: healthy again, uploads work.
	os.Remove(filler)
	for i := range min(stored, 6) {
		if code, body := do("DELETE", fmt.Sprintf("%s/api/files?path=/f%02d.bin", p.url, i), key, nil); code != 200 {
			t.Fatalf("delete: %d %s", code, body)
		}
	}
	if code, body := do("PUT", p.url+"/api/files/content?path=/again.bin", key, chunk); code != 201 {
		t.Fatalf("upload after freeing space: %d %s", code, body)
	}
	if resp, err := http.Get(p.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after freeing space: %v %v", resp, err)
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// diskFree is what the filesystem of dir has free for an unprivileged
// writer, as Depot's check reads it.
func diskFree(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}
