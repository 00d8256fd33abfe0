package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"depot/internal/testtool"
)

// One PostgreSQL cluster serves a whole test binary (initdb takes a
// second or two): PostgresDSN starts it on first use and gives each test
// a database of its own; PostgresMain stops it when the tests end.
var pg struct {
	once sync.Once
	err  error
	dir  string
	port int
	cmd  *exec.Cmd
	// exited is closed when the server has exited.
	exited chan struct{}
	n      atomic.Int64
}

// PostgresDurable, set before the first PostgresDSN, keeps the cluster's
// durability on (fsync, full page writes, synchronous commit), as a
// benchmark that compares it with bbolt's synced commits needs.
var PostgresDurable bool

// PostgresMain runs a package's tests (from its TestMain) and stops the
// cluster PostgresDSN started, if any.
func PostgresMain(m *testing.M) {
	code := m.Run()
	StopPostgres()
	os.Exit(code)
}

// StopPostgres stops the cluster PostgresDSN started, if any, and removes
// it, for a TestMain that has more to do than PostgresMain.
func StopPostgres() {
	if pg.cmd != nil {
		pg.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		<-pg.exited
	}
	if pg.dir != "" {
		os.RemoveAll(pg.dir)
	}
}

// pgBin finds a PostgreSQL server program: on the PATH, else in Debian's
// /usr/lib/postgresql/<version>/bin (the newest version).
func pgBin(tb testing.TB, name string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Slice(found, func(i, j int) bool { return pgVersion(found[i]) < pgVersion(found[j]) })
	if len(found) > 0 {
		return found[len(found)-1]
	}
	return testtool.Path(tb, name) // fails or skips, naming it
}

func pgVersion(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(bin))))
	return v
}

// PostgresDSN returns the connection string of a new, empty database in
// the test binary's cluster, which is started on first use (the package
// needs TestMain to call PostgresMain). Run as root, the cluster runs as
// the postgres system user, as PostgreSQL refuses root.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	initdb, server := pgBin(tb, "initdb"), pgBin(tb, "postgres")
	pg.once.Do(func() { pg.err = startPostgres(tb, initdb, server) })
	if pg.err != nil {
		tb.Fatal(pg.err)
	}
	name := fmt.Sprintf("t%d", pg.n.Add(1))
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgDSN("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	return pgDSN(name)
}

func pgDSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

// startPostgres makes a cluster in a new folder and starts it on a free
// loopback port. Durability is off (fsync, full pages) unless
// PostgresDurable: the tests' data is thrown away.
func startPostgres(tb testing.TB, initdb, server string) error {
	dir, err := os.MkdirTemp("", "depot-pg-")
	if err != nil {
		return err
	}
	pg.dir = dir
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("PostgreSQL refuses to run as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	pg.port = freePort(tb)
	out := &bytes.Buffer{}
	args := []string{"-D", data, "-k", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-c", "max_connections=300"}
	if !PostgresDurable {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	}
	pg.cmd = exec.Command(server, args...)
	pg.cmd.Stdout, pg.cmd.Stderr = out, out
	// Killed if this process dies first (a panic, a timeout).
	pg.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := pg.cmd.Start(); err != nil {
		return err
	}
	pg.exited = make(chan struct{})
	go func() { pg.cmd.Wait(); close(pg.exited) }()
	for { // until it takes connections (it refuses them while it starts)
		c, err := pgx.Connect(context.Background(), pgDSN("postgres"))
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-pg.exited:
			return fmt.Errorf("postgres exited before listening: %s", out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
