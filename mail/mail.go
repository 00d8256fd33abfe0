// Package mail sends Depot's email (filedrop notices and validation codes)
// through an SMTP relay with net/smtp.
package mail

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"depot/tlscert"
)

// Sender sends plain-text email through one SMTP relay.
type Sender struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	TLS      string // "starttls", "tls" or "none"
	// Timeout bounds one delivery (connect to QUIT); 0 means 30 s.
	Timeout time.Duration
}

// Send delivers one plain-text message to the recipients.
func (s *Sender) Send(ctx context.Context, to []string, subject, body string) error {
	return s.SendMessage(ctx, Message{To: to, Subject: subject, Body: body})
}

// SendMessage delivers m: plain text alone, or with its attachments as
// multipart/mixed (built by mime/multipart, base64 parts).
func (s *Sender) SendMessage(ctx context.Context, m Message) error {
	to := append(append([]string(nil), m.To...), m.Cc...)
	if len(to) == 0 {
		return nil
	}
	for _, a := range append([]string{s.From}, to...) {
		if strings.ContainsAny(a, "\r\n<>") {
			return fmt.Errorf("mail: bad address %q", a)
		}
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	var conn net.Conn
	var err error
	d := &net.Dialer{}
	if s.TLS == "tls" {
		conn, err = (&tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12, CipherSuites: tlscert.Suites}}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return fmt.Errorf("mail: %s: %w", addr, err)
	}
	defer c.Close()
	if s.TLS == "starttls" {
		if err := c.StartTLS(&tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12, CipherSuites: tlscert.Suites}); err != nil {
			return fmt.Errorf("mail: STARTTLS with %s: %w", addr, err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return fmt.Errorf("mail: authenticate to %s: %w", addr, err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("mail: RCPT TO %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := s.write(w, m); err != nil {
		return fmt.Errorf("mail: send: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: send: %w", err)
	}
	return c.Quit()
}

// Message is one email.
type Message struct {
	To, Cc      []string
	Subject     string
	Body        string
	Attachments []Attachment
}

// Attachment is a file sent with a message, read as it is sent.
type Attachment struct {
	Name        string
	ContentType string
	Content     io.Reader
}

// write writes m's headers and body.
func (s *Sender) write(w io.Writer, m Message) error {
	h := "From: " + s.From + "\r\nTo: " + strings.Join(m.To, ", ") + "\r\n"
	if len(m.Cc) > 0 {
		h += "Cc: " + strings.Join(m.Cc, ", ") + "\r\n"
	}
	h += "Subject: " + mime.QEncoding.Encode("utf-8", m.Subject) + "\r\n" +
		"Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\n"
	text := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if len(m.Attachments) == 0 {
		_, err := io.WriteString(w, h+"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+text)
		return err
	}
	mw := multipart.NewWriter(w)
	if _, err := io.WriteString(w, h+"Content-Type: multipart/mixed; boundary="+mw.Boundary()+"\r\n\r\n"); err != nil {
		return err
	}
	part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"8bit"}})
	if err != nil {
		return err
	}
	if _, err := io.WriteString(part, text); err != nil {
		return err
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(ct, map[string]string{"name": a.Name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return err
		}
		lw := &lineWriter{w: part}
		enc := base64.NewEncoder(base64.StdEncoding, lw)
		if _, err := io.Copy(enc, a.Content); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
		if err := lw.end(); err != nil {
			return err
		}
	}
	return mw.Close()
}

// lineWriter breaks base64 into lines of 76 characters (RFC 2045).
type lineWriter struct {
	w   io.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		if _, err := l.w.Write(p[:k]); err != nil {
			return n, err
		}
		n, l.col, p = n+k, l.col+k, p[k:]
		if l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return n, err
			}
			l.col = 0
		}
	}
	return n, nil
}

func (l *lineWriter) end() error {
	if l.col > 0 {
		_, err := io.WriteString(l.w, "\r\n")
		return err
	}
	return nil
}
