package testpeer

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// EICAR is the antivirus test file every engine detects as
// Eicar-Test-Signature; it harms nothing.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// Clamd is ClamAV's clamd on a loopback port and a Unix socket, with a
// database of one signature made here (EICAR anywhere in a file, also
// inside archives): nothing is downloaded.
type Clamd struct {
	*Process
	Socket string // the Unix socket
	Dir    string
}

// StartClamd starts clamd, stopped when the test ends; streams up to
// streamMaxMB (its StreamMaxLength) are scanned.
func StartClamd(tb testing.TB, streamMaxMB int) *Clamd {
	tb.Helper()
	bin := tool(tb, "clamd")
	dir, err := os.MkdirTemp("", "clamd") // short: a Unix socket's path has a length limit
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	os.Mkdir(db, 0o755)
	sig := "Eicar-Test-Signature:0:*:" + hex.EncodeToString([]byte(EICAR)) + "\n"
	if err := os.WriteFile(filepath.Join(db, "depot-test.ndb"), []byte(sig), 0o644); err != nil {
		tb.Fatal(err)
	}
	port := freePort(tb)
	c := &Clamd{Socket: filepath.Join(dir, "clamd.sock"), Dir: dir}
	conf := fmt.Sprintf("LocalSocket %s\nTCPSocket %d\nTCPAddr 127.0.0.1\nDatabaseDirectory %s\nForeground yes\n"+
		"LogFile %s\nStreamMaxLength %dM\nScanArchive yes\nMaxThreads 4\nSelfCheck 0\n",
		c.Socket, port, db, filepath.Join(dir, "clamd.log"), streamMaxMB)
	cf := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	c.Process = start(tb, port, nil, bin, "-c", cf)
	return c
}

// Address is clamd's TCP address as scan.address takes it.
func (c *Clamd) Address() string { return "tcp:127.0.0.1:" + strconv.Itoa(c.Port) }
