package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"depot/files"
)

// clamd scans over clamd's INSTREAM: "zINSTREAM\0", then chunks (a
// 4-byte big-endian length and the bytes), then a zero length; clamd
// answers "stream: OK" or "stream: <name> FOUND".
type clamd struct {
	network, addr string
	timeout       time.Duration
	maxSize       int64

	mu      sync.Mutex
	version string
	asked   time.Time
}

// versionEvery is how often clamd is asked its version (and so its
// database's) for the verdicts' record.
const versionEvery = 10 * time.Minute

// currentVersion returns clamd's version, asked again when it is older
// than versionEvery ("" when clamd does not say).
func (c *clamd) currentVersion(ctx context.Context) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.asked) > versionEvery {
		if v, err := c.Version(ctx); err == nil {
			c.version = v
		}
		c.asked = time.Now()
	}
	return c.version
}

// chunkSize is the most bytes buffered before a chunk goes to clamd.
const chunkSize = 256 << 10

func (c *clamd) Start(ctx context.Context) files.Scan {
	return &clamdScan{c: c, ctx: ctx, stream: stream{maxSize: c.maxSize}}
}

type clamdScan struct {
	c   *clamd
	ctx context.Context
	stream
	conn net.Conn
	w    *bufio.Writer
	buf  []byte
}

func (s *clamdScan) connect() error {
	d := net.Dialer{Timeout: s.c.timeout}
	conn, err := d.DialContext(s.ctx, s.c.network, s.c.addr)
	if err != nil {
		return fmt.Errorf("clamd at %s: %w", s.c.addr, err)
	}
	s.conn, s.w = conn, bufio.NewWriterSize(conn, chunkSize+4)
	s.deadline()
	_, err = s.w.WriteString("zINSTREAM\x00")
	return err
}

func (s *clamdScan) deadline() { s.conn.SetDeadline(time.Now().Add(s.c.timeout)) }

func (s *clamdScan) Write(p []byte) (int, error) {
	b := s.room(p)
	if b == nil {
		return len(p), nil
	}
	if s.conn == nil {
		if s.err = s.connect(); s.err != nil {
			return len(p), nil
		}
	}
	s.sent += int64(len(b))
	s.buf = append(s.buf, b...)
	for len(s.buf) >= chunkSize && s.err == nil {
		s.err = s.chunk(s.buf[:chunkSize])
		s.buf = s.buf[chunkSize:]
	}
	if len(s.buf) == 0 {
		s.buf = nil
	} else if cap(s.buf) > 2*chunkSize {
		s.buf = append([]byte(nil), s.buf...)
	}
	return len(p), nil
}

// chunk sends one INSTREAM chunk.
func (s *clamdScan) chunk(b []byte) error {
	s.deadline()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	s.w.Write(n[:])
	_, err := s.w.Write(b)
	return err
}

func (s *clamdScan) Verdict() files.Verdict {
	defer s.Abort()
	switch {
	case s.tooBig:
		return files.Verdict{Engine: Clamd, TooLarge: true}
	case s.conn == nil && s.err == nil:
		s.err = s.connect()
	}
	if s.conn == nil {
		return failed("clamd", s.err)
	}
	if s.err == nil && len(s.buf) > 0 {
		s.err = s.chunk(s.buf)
	}
	if s.err == nil {
		s.err = s.chunk(nil) // the end
	}
	if s.err == nil {
		s.err = s.w.Flush()
	}
	// clamd may have answered and closed already (its StreamMaxLength):
	// its answer says why, so it is read even after a failed write.
	s.deadline()
	reply, rerr := bufio.NewReader(s.conn).ReadString(0)
	reply = strings.TrimSpace(strings.TrimSuffix(reply, "\x00"))
	switch {
	case strings.HasSuffix(reply, " FOUND"):
		name := strings.TrimSuffix(strings.TrimPrefix(reply, "stream: "), " FOUND")
		return files.Verdict{Engine: Clamd, Infected: strings.TrimSuffix(name, ".UNOFFICIAL")}
	case reply == "stream: OK" && s.err == nil:
		return files.Verdict{Engine: Clamd, Version: s.c.currentVersion(s.ctx)}
	case strings.Contains(reply, "size limit exceeded"):
		return files.Verdict{Engine: Clamd, TooLarge: true}
	case reply != "":
		return failed("clamd", fmt.Errorf("clamd answered %q", reply))
	case s.err != nil:
		return failed("clamd", s.err)
	}
	return failed("clamd", errors.Join(errors.New("clamd gave no answer"), rerr))
}

func (s *clamdScan) Abort() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Version asks clamd for its version ("ClamAV 1.4.6/…"), for the log
// at start and the health of the engine.
func (c *clamd) Version(ctx context.Context) (string, error) {
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := conn.Write([]byte("zVERSION\x00")); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(conn).ReadBytes(0)
	if err != nil && len(reply) == 0 {
		return "", err
	}
	return string(bytes.TrimSpace(bytes.TrimSuffix(reply, []byte{0}))), nil
}
