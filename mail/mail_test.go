package mail_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"depot/internal/testpeer"
	"depot/mail"
)

// A message reaches a real SMTP server (Python's debugging server) with
// its headers, an encoded subject and CRLF lines; a header injection in
// an address is refused before anything is sent.
func TestSend(t *testing.T) {
	sink := testpeer.StartSMTP(t)
	s := &mail.Sender{Host: "127.0.0.1", Port: sink.Port, From: "depot@example.test", TLS: "none"}
	ctx := context.Background()
	if err := s.Send(ctx, []string{"ann@example.test", "bob@example.test"}, "Files für Sie", "line one\nline two"); err != nil {
		t.Fatal(err)
	}
	// The server prints each line of the message as a Python bytes literal.
	m := sink.Wait(regexp.MustCompile(`(?s)From: depot@example.test.*To: ann@example.test, bob@example.test.*Subject: ([^'\n]+).*line one'\s+b'line two`))
	if m[1] != "=?utf-8?q?Files_f=C3=BCr_Sie?=" {
		t.Fatalf("subject sent as %q, want it Q-encoded", m[1])
	}
	if err := s.Send(ctx, []string{"eve@example.test\r\nBcc: all@example.test"}, "x", "y"); err == nil {
		t.Fatal("an address with a line break was sent")
	}
	if err := s.Send(ctx, nil, "x", "y"); err != nil {
		t.Fatalf("no recipients: %v", err)
	}
	closed := &mail.Sender{Host: "127.0.0.1", Port: 1, From: "depot@example.test", TLS: "none"}
	if err := closed.Send(ctx, []string{"ann@example.test"}, "x", "y"); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("a closed port: %v", err)
	}
	if strings.Contains(sink.String(), "eve@") {
		t.Fatal("the refused message reached the server")
	}
}
