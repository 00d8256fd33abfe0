package files

import (
	"context"
	"hash"
)

// Scanner checks the bytes of an upload as they arrive (the scan package
// has the engines). The file service feeds a scan with the bytes it
// hashes, in order, and awaits the verdict before it publishes.
type Scanner interface {
	// Start begins the scan of one file; it connects on the first Write.
	Start(ctx context.Context) Scan
}

// Scan is one file's scan. Write never fails an upload: an engine that
// fails says so in the verdict.
type Scan interface {
	Write(p []byte) (int, error)
	// Verdict ends the scan and waits for the engine's answer.
	Verdict() Verdict
	// Abort ends the scan without a verdict.
	Abort()
}

// Verdict is an engine's answer about one file.
type Verdict struct {
	Engine string
	// Version is the engine's, as it reports it (clamd's VERSION, an ICAP
	// service's ISTag).
	Version string
	// Infected names the finding (Eicar-Test-Signature); "" when clean.
	Infected string
	// TooLarge: the file was larger than scan.max_size and not scanned.
	TooLarge bool
	// Err: the engine could not scan (down, timed out, refused).
	Err error
}

// ScanPolicy is what the service does when a file could not be scanned.
type ScanPolicy struct {
	// AllowUnscanned publishes a file the engine failed on (audited);
	// otherwise it is refused with 503 and Retry-After.
	AllowUnscanned bool
	// AllowOversize publishes a file above scan.max_size unscanned
	// (audited); otherwise it is refused.
	AllowOversize bool
}

// scanHash is the sha256 of an upload that also feeds its scan: every
// road hashes an upload's bytes once, in order, so the scan sees the
// same bytes without a second read. Reset (a rehash from the start)
// starts the scan again.
type scanHash struct {
	hash.Hash
	scanner Scanner
	ctx     context.Context
	scan    Scan
}

func (h *scanHash) Write(p []byte) (int, error) {
	if h.scan == nil {
		h.scan = h.scanner.Start(h.ctx)
	}
	h.scan.Write(p)
	return h.Hash.Write(p)
}

func (h *scanHash) Reset() {
	h.Hash.Reset()
	h.abort()
}

func (h *scanHash) abort() {
	if h.scan != nil {
		h.scan.Abort()
		h.scan = nil
	}
}

// verdict awaits the scan's verdict (an empty file's: a scan of nothing).
func (h *scanHash) verdict() Verdict {
	if h.scan == nil {
		h.scan = h.scanner.Start(h.ctx)
	}
	v := h.scan.Verdict()
	h.scan = nil
	return v
}
