package as2

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/textproto"
	"strings"
)

// entity is one MIME entity: its headers and its body, and the exact
// bytes it came as (what a signature and a MIC cover).
type entity struct {
	header textproto.MIMEHeader
	body   []byte
	raw    []byte
}

// mediaType returns the entity's media type, lower case, and parameters.
func (e *entity) mediaType() (string, map[string]string) {
	t, params, err := mime.ParseMediaType(e.header.Get("Content-Type"))
	if err != nil {
		return "text/plain", nil
	}
	return t, params
}

// content is the body with its transfer encoding undone.
func (e *entity) content() ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(e.header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		out, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, string(e.body)))
		if err != nil {
			return nil, fmt.Errorf("a base64 part is malformed: %w", err)
		}
		return out, nil
	case "", "binary", "7bit", "8bit":
		return e.body, nil
	default:
		return nil, fmt.Errorf("content transfer encoding %q is not supported", e.header.Get("Content-Transfer-Encoding"))
	}
}

// parseEntity reads raw as headers, a blank line and a body (CRLF or LF).
func parseEntity(raw []byte) (*entity, error) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	h, err := r.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("a MIME part's headers are malformed: %w", err)
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	sep := 4
	if lf := bytes.Index(raw, []byte("\n\n")); lf >= 0 && (end < 0 || lf < end) {
		end, sep = lf, 2
	}
	if end < 0 {
		return &entity{header: h, raw: raw}, nil
	}
	return &entity{header: h, body: raw[end+sep:], raw: raw}, nil
}

// topEntity makes an entity of an HTTP body and its Content-Type: AS2
// carries the outermost MIME headers as HTTP headers. Its raw bytes are
// not kept (no MIC covers the HTTP body as a whole; a copy of a large
// message costs).
func topEntity(contentType, transferEncoding, disposition string, body []byte) *entity {
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", contentType)
	if transferEncoding != "" {
		h.Set("Content-Transfer-Encoding", transferEncoding)
	}
	if disposition != "" {
		h.Set("Content-Disposition", disposition)
	}
	return &entity{header: h, body: body}
}

// parts splits a multipart body on its boundary and returns each part's
// exact bytes: between the delimiter line and the CRLF (or LF) that
// belongs to the next delimiter.
func parts(body []byte, boundary string) ([][]byte, error) {
	if boundary == "" {
		return nil, errors.New("a multipart message has no boundary")
	}
	delim := []byte("--" + boundary)
	var out [][]byte
	i := bytes.Index(body, delim)
	if i < 0 || (i > 0 && body[i-1] != '\n') {
		return nil, errors.New("a multipart message does not contain its boundary")
	}
	for {
		i += len(delim)
		if bytes.HasPrefix(body[i:], []byte("--")) {
			return out, nil
		}
		// The rest of the delimiter line (transport padding, then CRLF).
		nl := bytes.IndexByte(body[i:], '\n')
		if nl < 0 {
			return nil, errors.New("a multipart message ends inside a delimiter")
		}
		start := i + nl + 1
		next := bytes.Index(body[start:], append([]byte("\n"), delim...))
		if next < 0 {
			return nil, errors.New("a multipart message is not closed")
		}
		end := start + next
		if end > start && body[end-1] == '\r' {
			end--
		}
		if end < start {
			end = start
		}
		out = append(out, body[start:end])
		i = start + next + 1
		if len(out) > 16 {
			return nil, errors.New("a multipart message has too many parts")
		}
	}
}

// canonical turns bare LF line ends into CRLF (S/MIME's canonical form).
func canonical(b []byte) []byte {
	if bytes.Count(b, []byte("\n")) == bytes.Count(b, []byte("\r\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
