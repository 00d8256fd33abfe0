package as2

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// Dispositions (RFC 4130 7.4.3, 7.5.3).
const (
	dispositionProcessed = "automatic-action/MDN-sent-automatically; processed"
	dispositionPrefix    = "automatic-action/MDN-sent-automatically; "
)

// receipt is what an MDN says about one message.
type receipt struct {
	// station is the AS2 id answering, partner the one asked.
	station, partner string
	messageID        string
	// mic is "base64, sha-256"; "" when nothing was read.
	mic string
	// modifier is "" (processed), or "error: <kind>" / "warning: <kind>".
	modifier string
	text     string
}

func (r receipt) disposition() string {
	if r.modifier == "" {
		return dispositionProcessed
	}
	return dispositionPrefix + "processed/" + r.modifier
}

// boundary returns a new MIME boundary.
func boundary(prefix string) string {
	return "----=_" + prefix + "_" + strings.ToLower(rand.Text()[:20])
}

// newMessageID returns a Message-ID in angle brackets.
func newMessageID(host string) string {
	return "<" + strings.ToLower(rand.Text()) + "@" + host + ">"
}

// build returns the MDN as HTTP headers and body, signed with st's key
// when signMIC names a digest (the micalg the partner asked for).
func (r receipt) build(st *station, signMIC string, host string) (http.Header, []byte, error) {
	b := boundary("report")
	var rep bytes.Buffer
	fmt.Fprintf(&rep, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n%s\r\n", b, ascii(r.text))
	fmt.Fprintf(&rep, "--%s\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n", b)
	fmt.Fprintf(&rep, "Reporting-UA: Depot AS2\r\nOriginal-Recipient: rfc822; %s\r\nFinal-Recipient: rfc822; %s\r\n", ascii(quoteID(r.station)), ascii(quoteID(r.station)))
	fmt.Fprintf(&rep, "Original-Message-ID: %s\r\n", ascii(r.messageID))
	if r.mic != "" {
		fmt.Fprintf(&rep, "Received-Content-MIC: %s\r\n", r.mic)
	}
	fmt.Fprintf(&rep, "Disposition: %s\r\n\r\n--%s--\r\n", r.disposition(), b)
	reportType := `multipart/report; report-type=disposition-notification; boundary="` + b + `"`
	h := http.Header{}
	h.Set("AS2-Version", "1.2")
	h.Set("AS2-From", quoteID(r.station))
	h.Set("AS2-To", quoteID(r.partner))
	h.Set("Message-ID", newMessageID(host))
	h.Set("Date", time.Now().UTC().Format(time.RFC1123Z))
	h.Set("MIME-Version", "1.0")
	h.Set("Subject", "Receipt for "+r.messageID)
	if signMIC == "" || st == nil {
		h.Set("Content-Type", reportType)
		return h, rep.Bytes(), nil
	}
	_, body, ct, err := signedEntity([]byte("Content-Type: "+reportType+"\r\n\r\n"+rep.String()), st, signMIC)
	if err != nil {
		return nil, nil, err
	}
	h.Set("Content-Type", ct)
	return h, body, nil
}

// signedEntity wraps the entity inner in multipart/signed with a detached
// signature by st. It returns the whole entity (its Content-Type header,
// a blank line and the multipart body, in one buffer), the body alone (a
// part of it) and the Content-Type.
func signedEntity(inner []byte, st *station, mic string) (entity, body []byte, contentType string, err error) {
	sig, err := sign(inner, st.cert, st.key, mic)
	if err != nil {
		return nil, nil, "", err
	}
	b := boundary("signed")
	contentType = `multipart/signed; protocol="application/pkcs7-signature"; micalg=` + micHash[mic].name + `; boundary="` + b + `"`
	var out bytes.Buffer
	out.Grow(len(contentType) + len(inner) + len(sig)*4/3 + 512)
	fmt.Fprintf(&out, "Content-Type: %s\r\n\r\n", contentType)
	head := out.Len()
	fmt.Fprintf(&out, "--%s\r\n", b)
	out.Write(inner)
	fmt.Fprintf(&out, "\r\n--%s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7s\r\n\r\n", b)
	enc := base64.StdEncoding.EncodeToString(sig)
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	fmt.Fprintf(&out, "%s\r\n--%s--\r\n", enc, b)
	return out.Bytes(), out.Bytes()[head:], contentType, nil
}

// readMDN reads an MDN answered or posted by a partner: it verifies its
// signature with pc when it is signed, and returns its fields.
func readMDN(contentType string, body []byte, pc partnerCerts) (fields textproto.MIMEHeader, signed bool, err error) {
	e := topEntity(contentType, "", "", body)
	t, params := e.mediaType()
	if t == "multipart/signed" {
		inner, _, err := openSigned(e, params, pc.sign)
		if err != nil {
			return nil, true, err
		}
		e, signed = inner, true
		t, params = e.mediaType()
	}
	if t != "multipart/report" {
		return nil, signed, fmt.Errorf("the MDN is %s, not multipart/report", t)
	}
	ps, err := parts(e.body, params["boundary"])
	if err != nil {
		return nil, signed, err
	}
	for _, p := range ps {
		pe, err := parseEntity(p)
		if err != nil {
			return nil, signed, err
		}
		if mt, _ := pe.mediaType(); mt == "message/disposition-notification" {
			c, err := pe.content()
			if err != nil {
				return nil, signed, err
			}
			// A copy: c is part of body, which must stay as it came.
			fieldsText := append(bytes.Clone(c), "\r\n\r\n"...)
			f, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(fieldsText))).ReadMIMEHeader()
			if err != nil {
				return nil, signed, fmt.Errorf("the MDN's disposition fields are malformed: %w", err)
			}
			return f, signed, nil
		}
	}
	return nil, signed, errors.New("the MDN has no message/disposition-notification part")
}

// ascii makes s one line of printable US-ASCII, as a 7bit text part
// must be for its signature to survive canonicalization.
func ascii(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			return ' '
		case r < ' ' || r > '~':
			return '?'
		}
		return r
	}, s)
}

// quoteID quotes an AS2 id that holds a space, as RFC 4130 asks.
func quoteID(id string) string {
	if strings.ContainsAny(id, " \t") {
		return `"` + id + `"`
	}
	return id
}

// unquoteID reads an AS2-From or AS2-To header.
func unquoteID(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}
