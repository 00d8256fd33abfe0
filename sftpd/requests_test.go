package sftpd_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exchange sends one request and reads its answer, which must carry id.
func exchange(t *testing.T, in io.Writer, out io.Reader, id uint32, pkt []byte) (byte, []byte) {
	t.Helper()
	if _, err := in.Write(pkt); err != nil {
		t.Fatal(err)
	}
	typ, body, err := readPacket(out)
	if err != nil || len(body) < 4 || binary.BigEndian.Uint32(body) != id {
		t.Fatalf("answer to request %d: type %d body %.40x, %v", id, typ, body, err)
	}
	return typ, body[4:]
}

// wantStatus checks a STATUS answer's code and that its message holds msg.
func wantStatus(t *testing.T, what string, typ byte, body []byte, code uint32, msg string) {
	t.Helper()
	if typ != 101 || len(body) < 4 {
		t.Fatalf("%s: type %d, want a STATUS", what, typ)
	}
	got, _ := sshString(body[4:])
	if binary.BigEndian.Uint32(body) != code || !strings.Contains(got, msg) {
		t.Fatalf("%s: status %d %q, want %d with %q", what, binary.BigEndian.Uint32(body), got, code, msg)
	}
}

func handleOf(t *testing.T, what string, typ byte, body []byte) []byte {
	t.Helper()
	if typ != 102 {
		t.Fatalf("%s: type %d %q, want a HANDLE", what, typ, body)
	}
	h, _ := sshString(body)
	return str(h)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Requests a client should not send are answered with a status that says
// what is wrong, and change nothing.
func TestRawRequests(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "raw")
	home := filepath.Join(e.dir, "files", p.user.Home)
	os.MkdirAll(filepath.Join(home, "many"), 0o755)
	for i := range 250 {
		os.WriteFile(filepath.Join(home, "many", fmt.Sprintf("f%03d", i)), nil, 0o644)
	}
	os.WriteFile(filepath.Join(home, "keep.txt"), []byte("kept"), 0o644)
	in, out, _ := e.rawSession(t, p)

	typ, body := exchange(t, in, out, 1, packet(99, u32(1)))
	wantStatus(t, "unknown request type", typ, body, 8, "Unsupported")
	typ, body = exchange(t, in, out, 2, packet(200, u32(2), str("nosuch@example.com")))
	wantStatus(t, "unknown extension", typ, body, 8, "nosuch@example.com")
	typ, body = exchange(t, in, out, 3, packet(4, u32(3), str("77")))
	wantStatus(t, "CLOSE of a handle never opened", typ, body, 4, "No such handle")

	typ, body = exchange(t, in, out, 4, packet(3, u32(4), str("keep.txt"), u32(1), u32(0))) // OPEN for reading
	file := handleOf(t, "OPEN keep.txt", typ, body)
	typ, body = exchange(t, in, out, 5, packet(6, u32(5), file, u64(0), str("lost")))
	wantStatus(t, "WRITE to a file opened for reading", typ, body, 4, "/keep.txt is not open for writing")
	typ, body = exchange(t, in, out, 6, packet(5, u32(6), file, u64(1<<63), u32(10)))
	wantStatus(t, "READ at 2^63", typ, body, 4, "Offset out of range")
	typ, body = exchange(t, in, out, 7, packet(5, u32(7), file, u64(0), u32(100)))
	if got, _ := sshString(body); typ != 103 || got != "kept" {
		t.Fatalf("READ: type %d %q, want DATA \"kept\"", typ, got)
	}
	typ, body = exchange(t, in, out, 8, packet(5, u32(8), file, u64(4), u32(100)))
	wantStatus(t, "READ at the end", typ, body, 1, "")
	typ, body = exchange(t, in, out, 9, packet(12, u32(9), file))
	wantStatus(t, "READDIR of a file", typ, body, 4, "/keep.txt is not a folder")
	os.WriteFile(filepath.Join(home, "empty.txt"), nil, 0o644)
	typ, body = exchange(t, in, out, 90, packet(3, u32(90), str("empty.txt"), u32(1), u32(0)))
	empty := handleOf(t, "OPEN empty.txt", typ, body)
	typ, body = exchange(t, in, out, 91, packet(5, u32(91), empty, u64(0), u32(255<<10)))
	wantStatus(t, "READ of an empty file", typ, body, 1, "")

	// Listings come in pages of 100.
	typ, body = exchange(t, in, out, 10, packet(11, u32(10), str("many")))
	dir := handleOf(t, "OPENDIR many", typ, body)
	typ, body = exchange(t, in, out, 11, packet(5, u32(11), dir, u64(0), u32(10)))
	wantStatus(t, "READ of a folder", typ, body, 4, "/many is a folder")
	var pages []uint32
	for id := uint32(12); ; id++ {
		typ, body = exchange(t, in, out, id, packet(12, u32(id), dir))
		if typ == 101 {
			wantStatus(t, "READDIR past the end", typ, body, 1, "")
			break
		}
		pages = append(pages, binary.BigEndian.Uint32(body))
	}
	if fmt.Sprint(pages) != "[100 100 50]" {
		t.Fatalf("READDIR pages %v, want [100 100 50]", pages)
	}

	// Handles are bounded; closing one makes room.
	var refused bool
	for id := uint32(100); id < 400 && !refused; id++ {
		typ, body = exchange(t, in, out, id, packet(11, u32(id), str("/")))
		if typ == 101 {
			wantStatus(t, "OPENDIR past the bound", typ, body, 4, "Too many files and folders open")
			refused = true
		}
	}
	if !refused {
		t.Fatal("300 folders opened in one session")
	}
	exchange(t, in, out, 500, packet(4, u32(500), dir))
	typ, body = exchange(t, in, out, 501, packet(11, u32(501), str("/")))
	handleOf(t, "OPENDIR after a CLOSE", typ, body)

	if got, _ := os.ReadFile(filepath.Join(home, "keep.txt")); string(got) != "kept" {
		t.Fatalf("keep.txt holds %q after the refused requests", got)
	}

	// A packet longer than the protocol's bound ends its session; an
	// upload open in it is dropped.
	in, out, _ = e.rawSession(t, p)
	typ, body = exchange(t, in, out, 1, packet(3, u32(1), str("half.bin"), u32(0x1a), u32(0))) // WRITE|CREAT|TRUNC
	up := handleOf(t, "OPEN half.bin", typ, body)
	typ, body = exchange(t, in, out, 2, packet(6, u32(2), up, u64(0), str("half")))
	wantStatus(t, "WRITE", typ, body, 0, "")
	in.Write(u32(1 << 20))
	if typ, _, err := readPacket(out); err == nil {
		t.Fatalf("a 1 MiB packet was answered (type %d)", typ)
	}
	if _, err := os.Stat(filepath.Join(home, "half.bin")); !os.IsNotExist(err) {
		t.Fatalf("the upload open when its session ended was published: %v", err)
	}
	c, _ := e.dial(t, p)
	if _, err := c.Stat("/keep.txt"); err != nil {
		t.Fatalf("a new session after the oversized packet: %v", err)
	}
}
