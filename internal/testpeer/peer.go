// Package testpeer starts the real servers that storage connections are
// tested against: OpenSSH's sshd, vsftpd and VersityGW (an S3 gateway),
// each on a free loopback port with throwaway keys in a test's temporary
// folder, stopped when the test ends. A missing program fails the test
// under scripts/test.sh and skips it in a bare go test (testtool).
package testpeer

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"depot/internal/testtool"
)

// freePort returns a loopback port nobody listens on now.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Process is a started peer.
type Process struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	Port int
	args []string
	env  []string
	bin  string
	// group: the peer forks workers that keep its port (c-icap); it runs
	// in a process group of its own, and Stop ends the whole group.
	group bool
	// host is the loopback address it listens on; "": 127.0.0.1.
	host string
}

// start runs bin with args until the test ends and waits until it
// accepts connections on port (or fails the test if it exits).
func start(tb testing.TB, port int, env []string, bin string, args ...string) *Process {
	tb.Helper()
	p := &Process{Port: port, bin: bin, args: args, env: env}
	p.Start(tb)
	tb.Cleanup(p.Stop)
	return p
}

// startGroup is start for a peer that forks workers (see Process.group).
func startGroup(tb testing.TB, port int, bin string, args ...string) *Process {
	tb.Helper()
	p := &Process{Port: port, bin: bin, args: args, group: true}
	p.Start(tb)
	tb.Cleanup(p.Stop)
	return p
}

// Start starts the peer (again, after Stop) and waits until it listens.
func (p *Process) Start(tb testing.TB) {
	tb.Helper()
	p.out = &bytes.Buffer{}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if p.group {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("%s: %v", p.bin, err)
	}
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	for {
		host := p.host
		if host == "" {
			host = "127.0.0.1"
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(p.Port)), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			tb.Fatalf("%s exited before listening: %s", p.bin, p.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends the peer and waits for it.
func (p *Process) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		if p.group {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
		p.cmd.Process.Kill()
		p.cmd.Process.Wait()
	}
}

// Output is what the peer printed.
func (p *Process) Output() string { return p.out.String() }

// tool finds a program or ends the test as testtool does.
func tool(tb testing.TB, name string) string {
	tb.Helper()
	return testtool.Path(tb, name)
}
