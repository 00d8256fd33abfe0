package testpeer

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// AS2Received is what the receiving peer got: the payload entity as
// openssl opened it, and the MIC it computed.
type AS2Received struct {
	MessageID string
	Entity    []byte
	MIC       string
	Signed    bool
	Encrypted bool
}

// AS2Receiver is a partner's AS2 server played by OpenSSL: it decrypts
// what Depot sends with the peer's key (`openssl cms -decrypt`), verifies
// its signature against the station's certificate (`openssl cms
// -verify`), recomputes the MIC over what was signed and answers an MDN
// that openssl signed, in the HTTP answer or posted to the address the
// message asks for.
type AS2Receiver struct {
	*AS2Peer
	URL string
	// StationCert is the certificate file Depot's signatures must verify with.
	StationCert string
	// Disposition, when set, replaces "processed" (a negative receipt);
	// WrongMIC answers a MIC of other bytes; Unsigned answers an unsigned
	// MDN.
	Disposition string
	WrongMIC    bool
	Unsigned    bool
	// NoMDN answers 200 with nothing, whatever was asked.
	NoMDN bool

	mu       sync.Mutex
	received []AS2Received
	errs     []string
	srv      *http.Server
	async    sync.WaitGroup
}

// NewAS2Receiver starts the receiving peer on 127.0.0.1.
func (p *AS2Peer) NewAS2Receiver(tb testing.TB, stationCert string) *AS2Receiver {
	tb.Helper()
	r := &AS2Receiver{AS2Peer: p, StationCert: stationCert}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r.URL = "http://" + ln.Addr().String() + "/as2"
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go r.srv.Serve(ln)
	tb.Cleanup(func() { r.srv.Close(); r.async.Wait() })
	return r
}

// Received returns what arrived so far, and the errors the peer met.
func (r *AS2Receiver) Received() ([]AS2Received, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]AS2Received(nil), r.received...), append([]string(nil), r.errs...)
}

func (r *AS2Receiver) fail(w http.ResponseWriter, format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
}

// openssl runs openssl in dir and returns its output or an error with
// its stderr.
func (r *AS2Receiver) openssl(args ...string) ([]byte, error) {
	cmd := exec.Command(r.AS2Peer.openssl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("openssl %s: %v: %s", args[0]+" "+args[1], err, stderr.String())
	}
	return out, nil
}

func (r *AS2Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	dir, err := os.MkdirTemp(r.Dir, "msg")
	if err != nil {
		r.fail(w, "%v", err)
		return
	}
	got := AS2Received{MessageID: req.Header.Get("Message-ID")}
	entity := append([]byte("Content-Type: "+req.Header.Get("Content-Type")+"\r\n\r\n"), body...)
	if strings.Contains(req.Header.Get("Content-Type"), "enveloped-data") {
		in := filepath.Join(dir, "body.der")
		os.WriteFile(in, body, 0o600)
		if entity, err = r.openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", in, "-recip", r.Cert, "-inkey", r.Key); err != nil {
			r.fail(w, "%v", err)
			return
		}
		got.Encrypted = true
	}
	micOver := entity
	if bytes.Contains(entity[:bytes.Index(entity, []byte("\r\n\r\n"))+1], []byte("multipart/signed")) {
		in := filepath.Join(dir, "signed.mime")
		os.WriteFile(in, append([]byte("MIME-Version: 1.0\r\n"), entity...), 0o600)
		if entity, err = r.openssl("cms", "-verify", "-noverify", "-nointern", "-certfile", r.StationCert, "-in", in); err != nil {
			r.fail(w, "%v", err)
			return
		}
		micOver, got.Signed = entity, true
	}
	if head, der, ok := bytes.Cut(entity, []byte("\r\n\r\n")); ok && bytes.Contains(head, []byte("compressed-data")) {
		if entity, err = uncompress(der); err != nil {
			r.fail(w, "uncompressing: %v", err)
			return
		}
	}
	got.Entity = entity
	sum := sha256.Sum256(micOver)
	if r.WrongMIC {
		sum = sha256.Sum256(append(micOver, 'x'))
	}
	got.MIC = base64.StdEncoding.EncodeToString(sum[:]) + ", sha-256"
	r.mu.Lock()
	r.received = append(r.received, got)
	r.mu.Unlock()
	if req.Header.Get("Disposition-Notification-To") == "" || r.NoMDN {
		return
	}
	h, mdn, err := r.mdn(dir, req.Header, got)
	if err != nil {
		r.fail(w, "%v", err)
		return
	}
	if to := req.Header.Get("Receipt-Delivery-Option"); to != "" {
		r.async.Add(1)
		go func() {
			defer r.async.Done()
			post, _ := http.NewRequest(http.MethodPost, to, bytes.NewReader(mdn))
			post.Header = h
			if resp, err := http.DefaultClient.Do(post); err == nil {
				resp.Body.Close()
			}
		}()
		return
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Write(mdn)
}

// mdn builds the receipt for got and signs it with openssl.
func (r *AS2Receiver) mdn(dir string, in http.Header, got AS2Received) (http.Header, []byte, error) {
	disp := r.Disposition
	if disp == "" {
		disp = "processed"
	}
	report := "Content-Type: multipart/report; report-type=disposition-notification; boundary=\"peer-report\"\r\n\r\n" +
		"--peer-report\r\nContent-Type: text/plain\r\n\r\nYour message was received.\r\n" +
		"--peer-report\r\nContent-Type: message/disposition-notification\r\n\r\n" +
		"Reporting-UA: openssl peer\r\nOriginal-Recipient: rfc822; " + in.Get("AS2-To") + "\r\n" +
		"Final-Recipient: rfc822; " + in.Get("AS2-To") + "\r\nOriginal-Message-ID: " + got.MessageID + "\r\n" +
		"Received-Content-MIC: " + got.MIC + "\r\n" +
		"Disposition: automatic-action/MDN-sent-automatically; " + disp + "\r\n\r\n--peer-report--\r\n"
	h := http.Header{}
	h.Set("AS2-Version", "1.2")
	h.Set("AS2-From", in.Get("AS2-To"))
	h.Set("AS2-To", in.Get("AS2-From"))
	h.Set("Message-ID", "<mdn-"+strings.Trim(got.MessageID, "<>")+">")
	if r.Unsigned {
		ct, body, _ := strings.Cut(report, "\r\n\r\n")
		h.Set("Content-Type", strings.TrimPrefix(ct, "Content-Type: "))
		return h, []byte(body), nil
	}
	f := filepath.Join(dir, "report.mime")
	os.WriteFile(f, []byte(report), 0o600)
	out, err := r.openssl("cms", "-sign", "-md", "sha256", "-signer", r.Cert, "-inkey", r.Key, "-in", f)
	if err != nil {
		return nil, nil, err
	}
	i := bytes.Index(out, []byte("\n\n"))
	if i < 0 {
		return nil, nil, fmt.Errorf("openssl's signed MDN has no body")
	}
	for _, line := range strings.Split(string(out[:i]), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Type") {
			h.Set("Content-Type", strings.TrimSpace(v))
		}
	}
	return h, out[i+2:], nil
}

// uncompress opens RFC 3274 compressed data (this OpenSSL has no zlib).
func uncompress(der []byte) ([]byte, error) {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content struct {
			Version int
			Alg     struct{ OID asn1.ObjectIdentifier }
			Encap   struct {
				Type    asn1.ObjectIdentifier
				Content []byte `asn1:"explicit,tag:0"`
			}
		} `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, err
	}
	z, err := zlib.NewReader(bytes.NewReader(ci.Content.Encap.Content))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}
