// Package scan is Depot's antivirus: engines that check a file's bytes as
// they arrive, for the file service to await the verdict before it
// publishes. clamd takes the bytes over INSTREAM (its Unix socket or
// TCP); ICAP servers (RFC 3507, c-icap and the appliances of the field)
// over RESPMOD with a chunked body. Neither reads the file twice.
package scan

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"depot/files"
)

// Engines.
const (
	None  = "none"
	Clamd = "clamd"
	ICAP  = "icap"
)

// Config chooses and reaches an engine.
type Config struct {
	Engine string
	// Address: for clamd "unix:/run/clamav/clamd.ctl" or "tcp:host:3310"
	// (a bare path is a Unix socket); for ICAP "icap://host:1344/service".
	Address string
	// Timeout bounds connecting, each write and the wait for the verdict.
	Timeout time.Duration
	// MaxSize is the most bytes sent to the engine; a larger file's
	// verdict is TooLarge. 0: no limit of Depot's own.
	MaxSize int64
	// ICAPMethod is RESPMOD (the default: the file as an HTTP response's
	// body) or REQMOD (as an upload's, for servers set up for requests).
	ICAPMethod string
}

// New returns the scanner of c, or nil for engine none.
func New(c Config) (files.Scanner, error) {
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	switch c.Engine {
	case "", None:
		return nil, nil
	case Clamd:
		network, addr, err := clamdAddress(c.Address)
		if err != nil {
			return nil, err
		}
		return &clamd{network: network, addr: addr, timeout: c.Timeout, maxSize: c.MaxSize}, nil
	case ICAP:
		u, err := icapAddress(c.Address)
		if err != nil {
			return nil, err
		}
		switch c.ICAPMethod {
		case "", "RESPMOD":
			c.ICAPMethod = "RESPMOD"
		case "REQMOD":
		default:
			return nil, fmt.Errorf("scan.icap_method %q must be RESPMOD or REQMOD", c.ICAPMethod)
		}
		return &icap{url: u, timeout: c.Timeout, maxSize: c.MaxSize, method: c.ICAPMethod}, nil
	}
	return nil, fmt.Errorf("scan.engine %q is not one of none, clamd, icap", c.Engine)
}

func clamdAddress(a string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(a, "unix:"):
		return "unix", strings.TrimPrefix(a, "unix:"), nil
	case strings.HasPrefix(a, "/"):
		return "unix", a, nil
	case strings.HasPrefix(a, "tcp:"):
		if _, _, err := net.SplitHostPort(strings.TrimPrefix(a, "tcp:")); err != nil {
			return "", "", fmt.Errorf("scan.address %q: %v", a, err)
		}
		return "tcp", strings.TrimPrefix(a, "tcp:"), nil
	}
	return "", "", fmt.Errorf("scan.address %q must be unix:/path/to/clamd.ctl or tcp:host:3310 for clamd", a)
}

// stream is what both engines share: bytes sent in order up to a cap,
// the first failure kept for the verdict instead of failing the upload.
type stream struct {
	sent    int64
	maxSize int64
	err     error
	tooBig  bool
}

// room reports how much of b may still go to the engine, marking the
// stream too large past maxSize.
func (s *stream) room(b []byte) []byte {
	if s.err != nil || s.tooBig {
		return nil
	}
	if s.maxSize > 0 && s.sent+int64(len(b)) > s.maxSize {
		s.tooBig = true
		return nil
	}
	return b
}

// failed is the verdict of a stream that could not finish.
func failed(engine string, err error) files.Verdict {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("%s did not answer in time", engine)
	}
	return files.Verdict{Engine: engine, Err: err}
}
