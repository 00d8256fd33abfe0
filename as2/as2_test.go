package as2

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"depot/mft"
)

func TestDecompress_BoundsWhatItInflates(t *testing.T) {
	bomb, err := compress(make([]byte, 8<<20)) // 8 MiB of zeros: a few KiB compressed
	if err != nil {
		t.Fatal(err)
	}
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	if _, err := decompress(bomb, 1<<20); !errors.Is(err, errTooLarge) {
		t.Fatalf("an 8 MiB inflation under a 1 MiB cap: %v", err)
	}
	out, err := decompress(bomb, 8<<20)
	if err != nil || len(out) != 8<<20 {
		t.Fatalf("at the cap: %d bytes, %v", len(out), err)
	}
	damaged := bytes.Clone(bomb)
	damaged[len(damaged)-10] ^= 0xff
	if _, err := decompress(damaged, 8<<20); err == nil {
		t.Fatal("damaged compressed data opened")
	}
	for _, junk := range [][]byte{nil, []byte("hello"), bomb[:20]} {
		if _, err := decompress(junk, 1<<20); err == nil {
			t.Fatalf("%q opened as compressed data", junk)
		}
	}
}

func TestParts_HostileMultiparts(t *testing.T) {
	for _, c := range []struct{ name, body, boundary string }{
		{"no boundary parameter", "--b\r\nx\r\n--b--\r\n", ""},
		{"boundary absent", "hello", "b"},
		{"not closed", "--b\r\nContent-Type: text/plain\r\n\r\nx", "b"},
		{"delimiter not at a line start", "x--b\r\ny\r\n--b--", "b"},
		{"too many parts", strings.Repeat("--b\r\n\r\nx\r\n", 40) + "--b--\r\n", "b"},
	} {
		if ps, err := parts([]byte(c.body), c.boundary); err == nil {
			t.Errorf("%s: %d parts, want an error", c.name, len(ps))
		}
	}
	ps, err := parts([]byte("preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\n--b--\r\nepilogue"), "b")
	if err != nil || len(ps) != 2 || string(ps[0]) != "A: 1\r\n\r\none" || string(ps[1]) != "\r\ntwo" {
		t.Fatalf("parts: %q %v", ps, err)
	}
}

func TestOpen_RefusesTooManyLayers(t *testing.T) {
	e := []byte("Content-Type: text/plain\r\n\r\nhello")
	for range maxLayers + 1 {
		der, err := compress(e)
		if err != nil {
			t.Fatal(err)
		}
		e = append([]byte("Content-Type: application/pkcs7-mime; smime-type=compressed-data\r\n\r\n"), der...)
	}
	top, _ := parseEntity(e)
	_, err := open(top, nil, nil, 1<<20)
	var r *refusal
	if !errors.As(err, &r) || !strings.Contains(r.reason, "layers") {
		t.Fatalf("nested %d deep: %v", maxLayers+1, err)
	}
}

func TestFileName_OnlyPlainNames(t *testing.T) {
	for sent, want := range map[string]string{
		"po.x12":           "po.x12",
		"../../etc/passwd": "as2-m1_a.example.dat",
		"a/b.txt":          "as2-m1_a.example.dat",
		".hidden":          "as2-m1_a.example.dat",
		"":                 "as2-m1_a.example.dat",
		"bad\x00name":      "as2-m1_a.example.dat",
	} {
		if got := fileName(sent, "<m1@a.example>"); got != want {
			t.Errorf("fileName(%q) = %q, want %q", sent, got, want)
		}
	}
	long := fileName("", "<"+strings.Repeat("x", 300)+"@a.example>")
	if len(long) > 120 || !strings.HasPrefix(long, "as2-xxx") {
		t.Errorf("a long Message-ID names %q", long)
	}
}

func TestReadRequest_ReceiptOptions(t *testing.T) {
	h := http.Header{}
	h.Set("AS2-From", `"Acme Corp"`)
	h.Set("AS2-To", "DEPOT")
	h.Set("Message-ID", "<1@a>")
	h.Set("Disposition-Notification-To", "x@a")
	h.Set("Disposition-Notification-Options", "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, SHA1, sha-256")
	r := readRequest(h)
	if r.from != "Acme Corp" || !r.wantMDN || r.signMIC != mft.AS2SHA1 || len(r.micAlgs) != 2 {
		t.Fatalf("%+v", r)
	}
	h.Del("Disposition-Notification-Options")
	if r := readRequest(h); r.signMIC != "" || mdnMode(r) != mft.AS2MDNSync {
		t.Fatalf("no options: %+v", r)
	}
	h.Set("Receipt-Delivery-Option", "https://as2.acme.example/mdn")
	if r := readRequest(h); mdnMode(r) != mft.AS2MDNAsync {
		t.Fatalf("async: %+v", r)
	}
}

func TestAsyncAllowed_OnlyThePartnersHost(t *testing.T) {
	s := &Service{}
	p := &mft.AS2Partner{URL: "https://as2.acme.example/as2"}
	for target, want := range map[string]bool{
		"https://as2.acme.example/mdn":      true,
		"http://as2.acme.example/mdn":       true,
		"https://as2.acme.example:444/mdn":  false,
		"https://evil.example/mdn":          false,
		"https://as2.acme.example.evil/mdn": false,
		"file:///etc/passwd":                false,
		"":                                  false,
	} {
		if got := s.asyncAllowed(p, target); got != want {
			t.Errorf("%q: %v, want %v", target, got, want)
		}
	}
	if s.asyncAllowed(&mft.AS2Partner{}, "https://as2.acme.example/mdn") {
		t.Error("a partner without a URL takes asynchronous receipts anywhere")
	}
}

func TestSignVerify_OnlyThePartnersKey(t *testing.T) {
	now := time.Now()
	c1, k1, _ := generate("A", 1, now)
	c2, _, _ := generate("B", 1, now)
	cert1, _ := parseCert(c1)
	cert2, _ := parseCert(c2)
	key1, _ := parseKey(k1)
	sig, err := sign([]byte("content"), cert1, key1, mft.AS2SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if alg, err := verify(sig, []byte("content"), cert1); err != nil || alg != mft.AS2SHA256 {
		t.Fatalf("own certificate: %q %v", alg, err)
	}
	if _, err := verify(sig, []byte("content"), cert2); err == nil {
		t.Fatal("verified with another partner's certificate")
	}
	if _, err := verify(sig, []byte("Content"), cert1); err == nil {
		t.Fatal("verified changed content")
	}
}
