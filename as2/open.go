package as2

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
)

// refusal is why a message was refused: the MDN's disposition modifier
// ("error: authentication-failed") and the reason in words.
type refusal struct {
	kind   string
	reason string
}

func (r *refusal) Error() string { return r.reason }

func refuse(kind, format string, args ...any) *refusal {
	return &refusal{kind: kind, reason: fmt.Sprintf(format, args...)}
}

var errTooLarge = errors.New("the message inflates past the size limit")

// opened is a message with its layers taken off.
type opened struct {
	payload     []byte
	filename    string
	contentType string
	signed      bool
	encrypted   bool
	compressed  bool
	// signedWith is the signer's digest algorithm; micInput the bytes the
	// MIC covers (RFC 4130 7.3.1): what was signed, else what was
	// encrypted, else the payload alone.
	signedWith string
	micInput   []byte
}

// maxLayers bounds the S/MIME layers of one message.
const maxLayers = 6

// open takes the layers off e: decrypts with the station's key,
// decompresses (at most limit bytes) and verifies signatures with the
// partner's certificate, in whatever order the sender applied them.
func open(e *entity, st *station, partner *x509.Certificate, limit int64) (*opened, error) {
	o := &opened{}
	for range maxLayers {
		t, params := e.mediaType()
		switch t {
		case "application/pkcs7-mime", "application/x-pkcs7-mime":
			der, err := e.content()
			if err != nil {
				return nil, refuse("error: unexpected-processing-error", "%v", err)
			}
			var next []byte
			if isContent(der, oidCompressedData) {
				if next, err = decompress(der, limit); errors.Is(err, errTooLarge) {
					return nil, refuse("error: unexpected-processing-error", "the message decompresses to more than %d bytes", limit)
				} else if err != nil {
					return nil, refuse("error: decompression-failed", "%v", err)
				}
				o.compressed = true
			} else {
				if next, err = decrypt(der, st.cert, st.key); err != nil {
					return nil, refuse("error: decryption-failed", "%v", err)
				}
				if !o.encrypted && !o.signed {
					o.micInput = next
				}
				o.encrypted = true
			}
			if e, err = parseEntity(next); err != nil {
				return nil, refuse("error: unexpected-processing-error", "%v", err)
			}
		case "multipart/signed", "application/signed":
			inner, alg, err := openSigned(e, params, partner)
			if err != nil {
				return nil, err
			}
			if !o.signed {
				o.micInput, o.signedWith = inner.raw, alg
			}
			o.signed, e = true, inner
		default:
			c, err := e.content()
			if err != nil {
				return nil, refuse("error: unexpected-processing-error", "%v", err)
			}
			o.payload, o.contentType = c, t
			if !o.signed && !o.encrypted {
				o.micInput = c
			}
			if _, p, err := mime.ParseMediaType(e.header.Get("Content-Disposition")); err == nil {
				o.filename = p["filename"]
			}
			return o, nil
		}
	}
	return nil, refuse("error: unexpected-processing-error", "the message has more than %d S/MIME layers", maxLayers)
}

// openSigned verifies a multipart/signed entity and returns what it
// signed and the signer's digest algorithm. The signed part is checked as
// it came (without the CRLF before the delimiter, RFC 2046), then with the
// CR of that CRLF (binary content ending in CR, sent with bare LF line
// ends), then in canonical form (CRLF, as S/MIME signs text), then
// without its last line end (libas2 signs a multipart without the CRLF
// after its closing delimiter): each is the partner's signature over
// those exact bytes or nothing. The form that verified is returned, for
// the MIC.
func openSigned(e *entity, params map[string]string, cert *x509.Certificate) (*entity, string, error) {
	ps, err := parts(e.body, params["boundary"])
	if err != nil || len(ps) != 2 {
		return nil, "", refuse("error: authentication-failed", "the signed message is not two MIME parts (content and signature)")
	}
	sigPart, err := parseEntity(ps[1])
	if err != nil {
		return nil, "", refuse("error: authentication-failed", "%v", err)
	}
	sig, err := sigPart.content()
	if err != nil {
		return nil, "", refuse("error: authentication-failed", "%v", err)
	}
	var (
		signed []byte
		alg    string
		first  error
	)
	// Each form is made only when the one before failed: a 100 MiB
	// message that verifies as it came is not copied.
	for _, form := range []func([]byte) []byte{asIs, withCR, canonical, canonicalTrimmed} {
		f := form(ps[0])
		if f == nil {
			continue
		}
		if alg, err = verify(sig, f, cert); err == nil {
			signed = f
			break
		} else if first == nil {
			first = err
		}
	}
	if signed == nil {
		return nil, "", refuse("error: authentication-failed", "%v", first)
	}
	inner, err := parseEntity(signed)
	if err != nil {
		return nil, "", refuse("error: unexpected-processing-error", "%v", err)
	}
	return inner, alg, nil
}

func asIs(b []byte) []byte { return b }

// withCR is the part with the CR that parts took for the delimiter's:
// a binary part ending in CR, sent with bare LF line ends (as openssl
// writes MIME), owns it. nil when parts took none.
func withCR(b []byte) []byte {
	if end := len(b); cap(b) > end && b[:end+1][end] == '\r' {
		return b[:end+1]
	}
	return nil
}

// canonicalTrimmed is the canonical form without its last CRLF, or nil
// when it does not end in one.
func canonicalTrimmed(b []byte) []byte {
	t, ok := bytes.CutSuffix(canonical(b), []byte("\r\n"))
	if !ok {
		return nil
	}
	return t
}
