package scan

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"depot/files"
)

// icap scans over ICAP (RFC 3507): a RESPMOD whose encapsulated HTTP
// response carries the file as a chunked body (or a REQMOD whose PUT
// request does), sent as it arrives, with "Allow: 204" so that a clean
// file is answered 204 No Content. An
// infected one is answered 200 (the server's replacement) or 403, naming
// the finding in X-Infection-Found or X-Violations-Found.
type icap struct {
	url     *url.URL
	timeout time.Duration
	maxSize int64
	method  string // RESPMOD or REQMOD
}

func icapAddress(a string) (*url.URL, error) {
	u, err := url.Parse(a)
	if err != nil || u.Scheme != "icap" || u.Host == "" || u.Path == "" || u.Path == "/" {
		return nil, fmt.Errorf("scan.address %q must be icap://host:1344/service for icap", a)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "1344")
	}
	return u, nil
}

func (c *icap) Start(ctx context.Context) files.Scan {
	return &icapScan{c: c, ctx: ctx, stream: stream{maxSize: c.maxSize}}
}

type icapScan struct {
	c   *icap
	ctx context.Context
	stream
	conn net.Conn
	w    *bufio.Writer
}

func (s *icapScan) connect() error {
	d := net.Dialer{Timeout: s.c.timeout}
	conn, err := d.DialContext(s.ctx, "tcp", s.c.url.Host)
	if err != nil {
		return fmt.Errorf("ICAP server at %s: %w", s.c.url.Host, err)
	}
	s.conn, s.w = conn, bufio.NewWriterSize(conn, chunkSize)
	s.conn.SetDeadline(time.Now().Add(s.c.timeout))
	if s.c.method == "REQMOD" {
		// The file as the body of an upload (PUT).
		reqHdr := "PUT /depot-upload HTTP/1.1\r\nHost: depot\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
		fmt.Fprintf(s.w, "REQMOD %s ICAP/1.0\r\nHost: %s\r\nAllow: 204\r\nEncapsulated: req-hdr=0, req-body=%d\r\n\r\n%s",
			s.c.url.String(), s.c.url.Hostname(), len(reqHdr), reqHdr)
		return nil
	}
	reqHdr := "GET /depot-upload HTTP/1.1\r\nHost: depot\r\n\r\n"
	resHdr := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	fmt.Fprintf(s.w, "RESPMOD %s ICAP/1.0\r\nHost: %s\r\nAllow: 204\r\nEncapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n%s%s",
		s.c.url.String(), s.c.url.Hostname(), len(reqHdr), len(reqHdr)+len(resHdr), reqHdr, resHdr)
	return nil
}

func (s *icapScan) Write(p []byte) (int, error) {
	b := s.room(p)
	if b == nil || len(b) == 0 {
		return len(p), nil
	}
	if s.conn == nil {
		if s.err = s.connect(); s.err != nil {
			return len(p), nil
		}
	}
	s.sent += int64(len(b))
	s.conn.SetDeadline(time.Now().Add(s.c.timeout))
	fmt.Fprintf(s.w, "%x\r\n", len(b))
	s.w.Write(b)
	_, s.err = s.w.WriteString("\r\n")
	return len(p), nil
}

func (s *icapScan) Verdict() files.Verdict {
	defer s.Abort()
	switch {
	case s.tooBig:
		return files.Verdict{Engine: ICAP, TooLarge: true}
	case s.conn == nil && s.err == nil:
		s.err = s.connect()
	}
	if s.conn == nil {
		return failed("the ICAP server", s.err)
	}
	if s.err == nil {
		s.conn.SetDeadline(time.Now().Add(s.c.timeout))
		s.w.WriteString("0\r\n\r\n")
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return failed("the ICAP server", s.err)
	}
	r := textproto.NewReader(bufio.NewReader(s.conn))
	line, err := r.ReadLine()
	if err != nil {
		return failed("the ICAP server", err)
	}
	h, _ := r.ReadMIMEHeader()
	var code int
	if _, err := fmt.Sscanf(line, "ICAP/1.0 %d", &code); err != nil {
		return failed("the ICAP server", fmt.Errorf("the ICAP server answered %q", line))
	}
	finding := threat(h.Get("X-Infection-Found"))
	if finding == "" {
		finding = threat(h.Get("X-Violations-Found"))
	}
	switch {
	case finding != "":
		return files.Verdict{Engine: ICAP, Infected: finding}
	case code == 204:
		return files.Verdict{Engine: ICAP, Version: strings.Trim(h.Get("ISTag"), `"`)}
	case code == 200 || code == 403:
		// A replaced answer without a finding header: the server blocked
		// it and did not say why.
		return files.Verdict{Engine: ICAP, Infected: "blocked by the ICAP server"}
	}
	return failed("the ICAP server", fmt.Errorf("the ICAP server answered %q", line))
}

// threat reads "Type=0; Resolution=2; Threat=Eicar-Test-Signature;" (the
// draft's X-Infection-Found) or the name a server puts first.
func threat(v string) string {
	if v == "" {
		return ""
	}
	for _, part := range strings.Split(v, ";") {
		if k, val, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(k, "Threat") {
			return strings.TrimSuffix(strings.TrimSpace(val), ".UNOFFICIAL")
		}
	}
	return strings.TrimSpace(v)
}

func (s *icapScan) Abort() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
