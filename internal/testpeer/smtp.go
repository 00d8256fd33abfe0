package testpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
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

// SMTPFiles is an SMTP server of Python's standard library (smtpd) that
// writes each message it accepts, as received, to a file of Dir: for
// tests that parse what was sent (MIME parts, attachments).
type SMTPFiles struct {
	Port int
	Dir  string
}

const smtpFilesScript = `import asyncore, itertools, os, smtpd, sys, warnings
warnings.simplefilter("ignore")
class Sink(smtpd.SMTPServer):
    n = itertools.count()
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        name = os.path.join(sys.argv[2], "%05d" % next(self.n))
        with open(name + ".tmp", "wb") as f:
            f.write(("X-Rcpt-To: " + ", ".join(rcpttos) + "\r\n").encode() + data)
        os.rename(name + ".tmp", name + ".eml")
Sink(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
asyncore.loop()
`

// StartSMTPFiles starts it; it stops when the test ends.
func StartSMTPFiles(tb testing.TB) *SMTPFiles {
	tb.Helper()
	python := testtool.Path(tb, "python3")
	s := &SMTPFiles{Port: freePort(tb), Dir: tb.TempDir()}
	script := filepath.Join(tb.TempDir(), "sink.py")
	os.WriteFile(script, []byte(smtpFilesScript), 0o600)
	start(tb, s.Port, nil, python, "-u", "-W", "ignore", script, fmt.Sprint(s.Port), s.Dir)
	return s
}

// Messages waits until n messages arrived and returns them, oldest first.
func (s *SMTPFiles) Messages(n int) [][]byte {
	for {
		names, _ := filepath.Glob(filepath.Join(s.Dir, "*.eml"))
		if len(names) >= n {
			sort.Strings(names)
			out := make([][]byte, len(names))
			for i, name := range names {
				out[i], _ = os.ReadFile(name)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}
