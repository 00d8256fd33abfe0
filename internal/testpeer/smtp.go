package testpeer

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"depot/internal/testtool"
)

// SMTPSink is Python's standard-library SMTP debugging server on a
// loopback port: it accepts every message and prints it.
type SMTPSink struct {
	Port int
	testtool.Buffer
}

// Wait returns the output's submatches once it matches re.
func (s *SMTPSink) Wait(re *regexp.Regexp) []string {
	for {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartSMTP starts the sink; it stops when the test ends.
func StartSMTP(tb testing.TB) *SMTPSink {
	tb.Helper()
	python := testtool.Path(tb, "python3")
	sink := &SMTPSink{Port: freePort(tb)}
	cmd := exec.Command(python, "-u", "-W", "ignore", "-m", "smtpd", "-n", "-c", "DebuggingServer", fmt.Sprintf("127.0.0.1:%d", sink.Port))
	cmd.Stdout, cmd.Stderr = sink, sink
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sink.Port))
		if err == nil {
			c.Close()
			return sink
		}
		time.Sleep(20 * time.Millisecond)
	}
}
