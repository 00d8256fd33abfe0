package testpeer

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"depot/internal/testtool"
)

// AS2Peer is a trading partner played by OpenSSL: its key and
// self-signed certificate, and the S/MIME work of its side done by
// `openssl cms`, as a partner's AS2 software would.
type AS2Peer struct {
	tb      testing.TB
	openssl string
	Dir     string
	// Cert and Key are PEM files; CertPEM the certificate's text.
	Cert, Key string
	CertPEM   string
}

// NewAS2Peer makes a partner with a fresh RSA key and a self-signed
// certificate for cn valid for days.
func NewAS2Peer(tb testing.TB, cn string, days int) *AS2Peer {
	tb.Helper()
	p := &AS2Peer{tb: tb, openssl: testtool.Path(tb, "openssl"), Dir: tb.TempDir()}
	p.Cert, p.Key = filepath.Join(p.Dir, "peer.crt"), filepath.Join(p.Dir, "peer.key")
	p.Run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p.Key, "-out", p.Cert, "-subj", "/CN="+cn, "-days", fmt.Sprint(days))
	p.CertPEM = string(p.read(p.Cert))
	return p
}

// Run runs openssl with args and returns its output.
func (p *AS2Peer) Run(args ...string) []byte {
	p.tb.Helper()
	cmd := exec.Command(p.openssl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		p.tb.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// Try runs openssl and reports whether it succeeded, with its stderr.
func (p *AS2Peer) Try(args ...string) (bool, string) {
	cmd := exec.Command(p.openssl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return err == nil, stderr.String()
}

func (p *AS2Peer) read(name string) []byte {
	p.tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		p.tb.Fatal(err)
	}
	return b
}

// File writes data to a new file in the peer's folder and returns its path.
func (p *AS2Peer) File(name string, data []byte) string {
	p.tb.Helper()
	f := filepath.Join(p.Dir, name)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		p.tb.Fatal(err)
	}
	return f
}

// Message is what a partner posts: the HTTP Content-Type and body, and
// the MIC a correct receipt must carry.
type Message struct {
	ContentType string
	Body        []byte
	MIC         string
	// MICAlg is the MIC's algorithm as a receipt request names it.
	MICAlg string
	// Disposition is the Content-Disposition HTTP header of a message
	// sent plain (its file name).
	Disposition string
}

// AS2Options shape a message: signed with a digest ("sha256", "sha1";
// "" unsigned), compressed (RFC 3274, before signing), encrypted for the
// certificate file EncryptFor with Cipher ("aes256", "aes128", "des3").
type AS2Options struct {
	Sign       string
	Compress   bool
	EncryptFor string
	Cipher     string
}

// Entity is the payload as a MIME entity, as AS2 software sends a file.
func Entity(name string, data []byte) []byte {
	return append([]byte("Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary\r\n"+
		"Content-Disposition: attachment; filename=\""+name+"\"\r\n\r\n"), data...)
}

// Build makes a message of the file name holding data: the entity, then
// compressed, signed and encrypted by openssl as o says; the MIC is
// computed here over what RFC 4130 says it covers.
func (p *AS2Peer) Build(name string, data []byte, o AS2Options) Message {
	p.tb.Helper()
	entity := Entity(name, data)
	ctype, body := "application/edi-x12", data
	micOver, micAlg := data, "sha-256"
	if o.Compress {
		der := p.Compress(entity)
		entity = append([]byte("Content-Type: application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z\r\nContent-Transfer-Encoding: binary\r\n\r\n"), der...)
		ctype, body = "application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z", der
	}
	if o.Sign != "" {
		in := p.File("tosign.mime", entity)
		out := p.Run("cms", "-sign", "-binary", "-md", o.Sign, "-signer", p.Cert, "-inkey", p.Key, "-in", in)
		micOver, micAlg = entity, map[string]string{"sha256": "sha-256", "sha1": "sha1"}[o.Sign]
		ctype, body = SplitMIME(p.tb, out)
		entity = append([]byte("Content-Type: "+ctype+"\r\n\r\n"), body...)
	}
	if o.EncryptFor != "" {
		if o.Sign == "" {
			micOver = entity
		}
		in := p.File("toencrypt.mime", entity)
		cipher := o.Cipher
		if cipher == "" {
			cipher = "aes256"
		}
		body = p.Run("cms", "-encrypt", "-binary", "-"+cipher, "-outform", "DER", "-in", in, o.EncryptFor)
		ctype = "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"
	}
	h := map[string]func() []byte{"sha-256": func() []byte { s := sha256.Sum256(micOver); return s[:] }}
	var mic string
	if f, ok := h[micAlg]; ok {
		mic = base64.StdEncoding.EncodeToString(f()) + ", sha-256"
	} else {
		mic = base64.StdEncoding.EncodeToString(p.Run("dgst", "-sha1", "-binary", p.File("mic.bin", micOver))) + ", sha1"
	}
	alg := "sha-256"
	if strings.HasSuffix(mic, "sha1") {
		alg = "sha1"
	}
	m := Message{ContentType: ctype, Body: body, MIC: mic, MICAlg: alg}
	if !o.Compress && o.Sign == "" && o.EncryptFor == "" {
		m.Disposition = `attachment; filename="` + name + `"`
	}
	return m
}

// Compress makes RFC 3274 compressed data of entity: zlib by Go's
// compress/zlib, the ASN.1 around it by `openssl asn1parse -genconf`
// (this OpenSSL is built without zlib, so `cms -compress` is not there).
func (p *AS2Peer) Compress(entity []byte) []byte {
	p.tb.Helper()
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(entity)
	w.Close()
	conf := "asn1=SEQUENCE:ci\n[ci]\ntype=OID:1.2.840.113549.1.9.16.1.9\ncontent=EXPLICIT:0,SEQUENCE:cd\n" +
		"[cd]\nversion=INT:0\nalg=SEQUENCE:zlib\nencap=SEQUENCE:encap\n[zlib]\noid=OID:1.2.840.113549.1.9.16.3.8\n" +
		"[encap]\ntype=OID:1.2.840.113549.1.7.1\ncontent=EXPLICIT:0,FORMAT:HEX,OCTETSTRING:" + hex.EncodeToString(z.Bytes()) + "\n"
	out := filepath.Join(p.Dir, "compressed.der")
	p.Run("asn1parse", "-genconf", p.File("compress.cnf", []byte(conf)), "-out", out, "-noout")
	return p.read(out)
}

// SplitMIME splits a MIME message as openssl writes it into its
// Content-Type header and its body, as AS2 carries them over HTTP.
func SplitMIME(tb testing.TB, msg []byte) (string, []byte) {
	tb.Helper()
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(msg)))
	h, err := r.ReadMIMEHeader()
	if err != nil {
		tb.Fatalf("openssl's MIME output: %v", err)
	}
	i := bytes.Index(msg, []byte("\n\n"))
	j := bytes.Index(msg, []byte("\r\n\r\n"))
	switch {
	case j >= 0 && (i < 0 || j < i):
		return h.Get("Content-Type"), msg[j+4:]
	case i >= 0:
		return h.Get("Content-Type"), msg[i+2:]
	}
	tb.Fatalf("openssl's MIME output has no body")
	return "", nil
}

// VerifyMDN checks a signed MDN with openssl against the certificate
// file signer alone and returns the report it signed.
func (p *AS2Peer) VerifyMDN(contentType string, body []byte, signer string) []byte {
	p.tb.Helper()
	in := p.File("mdn.eml", append([]byte("MIME-Version: 1.0\r\nContent-Type: "+contentType+"\r\n\r\n"), body...))
	return p.Run("cms", "-verify", "-noverify", "-nointern", "-certfile", signer, "-in", in)
}

// MDNField returns a field of an MDN report's disposition-notification
// part (as text: openssl verified the report, this only reads it).
func MDNField(report []byte, name string) string {
	for _, line := range strings.Split(string(report), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
