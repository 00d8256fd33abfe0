package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"depot/files"
	"depot/internal/testpeer"
)

// scanBytes scans b in pieces of 100 KiB, as an upload's bytes arrive.
func scanBytes(t *testing.T, s files.Scanner, b []byte) files.Verdict {
	t.Helper()
	sc := s.Start(context.Background())
	for len(b) > 0 {
		n := min(len(b), 100<<10)
		sc.Write(b[:n])
		b = b[n:]
	}
	return sc.Verdict()
}

func eicarZip(t *testing.T) []byte {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	w, _ := z.Create("invoice.pdf.exe")
	w.Write([]byte(testpeer.EICAR))
	z.Close()
	return buf.Bytes()
}

func TestClamd_Verdicts(t *testing.T) {
	c := testpeer.StartClamd(t, 4)
	for _, addr := range []string{c.Address(), "unix:" + c.Socket, c.Socket} {
		s, err := New(Config{Engine: Clamd, Address: addr, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		clean := bytes.Repeat([]byte("ISA*00~\r\n"), 200_000) // 1.8 MB, many chunks
		if v := scanBytes(t, s, clean); v.Infected != "" || v.Err != nil || v.TooLarge {
			t.Fatalf("%s: clean file: %+v", addr, v)
		}
		if v := scanBytes(t, s, nil); v.Infected != "" || v.Err != nil {
			t.Fatalf("%s: empty file: %+v", addr, v)
		}
		for name, b := range map[string][]byte{"EICAR": []byte(testpeer.EICAR), "EICAR after 1 MB": append(bytes.Repeat([]byte("x"), 1<<20), testpeer.EICAR...),
			"EICAR in a zip": eicarZip(t)} {
			if v := scanBytes(t, s, b); v.Infected != "Eicar-Test-Signature" || v.Engine != Clamd {
				t.Fatalf("%s: %s: %+v", addr, name, v)
			}
		}
		// Beyond clamd's StreamMaxLength (4 MiB here): too large, not clean.
		if v := scanBytes(t, s, make([]byte, 5<<20)); !v.TooLarge {
			t.Fatalf("%s: beyond StreamMaxLength: %+v", addr, v)
		}
	}
	// Depot's own cap stops sending at max_size.
	s, _ := New(Config{Engine: Clamd, Address: c.Address(), MaxSize: 1 << 20})
	if v := scanBytes(t, s, make([]byte, 2<<20)); !v.TooLarge {
		t.Fatalf("beyond max_size: %+v", v)
	}
	// clamd down: an error, never clean.
	c.Stop()
	if v := scanBytes(t, s, []byte("hello")); v.Err == nil || v.Infected != "" {
		t.Fatalf("clamd down: %+v", v)
	}
	// A scan started and aborted leaves nothing open to wait on.
	c.Start(t)
	sc := s.Start(context.Background())
	sc.Write([]byte("half"))
	sc.Abort()
}

func TestNew_RefusesBadSettings(t *testing.T) {
	for _, c := range []Config{{Engine: "mcafee"}, {Engine: Clamd, Address: "clamd.example"}, {Engine: Clamd, Address: "tcp:nohostport"},
		{Engine: ICAP, Address: "http://x/avscan"}, {Engine: ICAP, Address: "icap://x"}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
	if s, err := New(Config{Engine: None}); s != nil || err != nil {
		t.Errorf("none: %v %v", s, err)
	}
	if u, _ := icapAddress("icap://127.0.0.1/avscan"); !strings.HasSuffix(u.Host, ":1344") {
		t.Errorf("ICAP's default port: %s", u.Host)
	}
}

func TestICAP_Verdicts(t *testing.T) {
	c := testpeer.StartClamd(t, 64)
	ic := testpeer.StartCICAP(t, c)
	s, err := New(Config{Engine: ICAP, Address: ic.URL, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if v := scanBytes(t, s, bytes.Repeat([]byte("ISA*00~\r\n"), 200_000)); v.Infected != "" || v.Err != nil {
		t.Fatalf("clean file: %+v", v)
	}
	for name, b := range map[string][]byte{"EICAR": []byte(testpeer.EICAR), "EICAR in a zip": eicarZip(t),
		"EICAR after 1 MB": append(bytes.Repeat([]byte("x"), 1<<20), testpeer.EICAR...)} {
		if v := scanBytes(t, s, b); !strings.HasPrefix(v.Infected, "Eicar-Test-Signature") || v.Engine != ICAP {
			t.Fatalf("%s: %+v", name, v)
		}
	}
	// REQMOD: the same file as an upload's body.
	req, err := New(Config{Engine: ICAP, Address: ic.URL, Timeout: 20 * time.Second, ICAPMethod: "REQMOD"})
	if err != nil {
		t.Fatal(err)
	}
	if v := scanBytes(t, req, []byte(testpeer.EICAR)); !strings.HasPrefix(v.Infected, "Eicar-Test-Signature") {
		t.Fatalf("REQMOD, EICAR: %+v", v)
	}
	if v := scanBytes(t, req, []byte("clean upload")); v.Infected != "" || v.Err != nil {
		t.Fatalf("REQMOD, clean: %+v", v)
	}
	if _, err := New(Config{Engine: ICAP, Address: ic.URL, ICAPMethod: "OPTIONS"}); err == nil {
		t.Fatal("ICAP method OPTIONS accepted")
	}
	ic.Stop()
	if v := scanBytes(t, s, []byte("hello")); v.Err == nil || v.Infected != "" {
		t.Fatalf("c-icap down: %+v", v)
	}
}
