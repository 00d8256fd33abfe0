package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"depot/app"
	"depot/internal/testpeer"
	dmail "depot/mail"
)

// parsedMail is a message as a mail client reads it.
type parsedMail struct {
	header      mail.Header
	text        string
	attachments map[string][]byte
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, raw)
	}
	out := parsedMail{header: m.Header, attachments: map[string][]byte{}}
	mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(m.Body)
		out.text = string(b)
		return out
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
			if err != nil {
				t.Fatalf("attachment not base64: %v", err)
			}
		}
		if p.FileName() != "" {
			out.attachments[p.FileName()] = b
		} else {
			out.text = string(b)
		}
	}
	return out
}

func TestAutomations_EmailActionAndNotices(t *testing.T) {
	sink := testpeer.StartSMTPFiles(t)
	ts := MustOpenServer(t, func(a *app.App) {
		a.Engine.Mailer = &dmail.Sender{Host: "127.0.0.1", Port: sink.Port, From: "depot@example.com", TLS: "none"}
	})
	u := ts.createUser(t, `{"user":{"username":"acme","email":"acme@example.com"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/in"}`), 201)
	small := strings.Repeat("0123456789", 1000) + "\x00\xff binary tail"
	big := strings.Repeat("x", 2<<20)
	want(t, ts.put(t, u.APIKey, "/in/report.bin", small), 201)
	want(t, ts.put(t, u.APIKey, "/in/big.bin", big), 201)

	// An event automation: the uploaded file attached, or a link when it
	// is larger than attach_max_mb; the failure notice to notify.on_failure.
	id := ts.createAutomation(t, `{"automation":{"name":"tell accounts","trigger":"manual","retry":{"attempts":1},
		"notify":{"on_failure":["ops@example.com"]},
		"actions":[{"type":"email","recipients":["accounts@example.com"],"cc":["audit@example.com"],
			"subject":"New file {NAME} from {USER}","body":"{PATH} arrived ({SIZE} bytes).","attach":true,"attach_max_mb":1,"link_as":"`+u.ID+`"}]}}`)
	for _, f := range []string{"/users/" + u.ID + "/in/report.bin", "/users/" + u.ID + "/in/big.bin"} {
		want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"`+f+`"}`), 202)
	}
	ts.waitRuns(t, id, 2)
	msgs := sink.Messages(2)
	// The two runs go at once: tell the messages apart by their subjects.
	if strings.Contains(string(msgs[0]), "Subject: New file big.bin") {
		msgs[0], msgs[1] = msgs[1], msgs[0]
	}
	first, second := parseMail(t, msgs[0]), parseMail(t, msgs[1])
	sum := sha256.Sum256([]byte(small))
	got := sha256.Sum256(first.attachments["report.bin"])
	if first.header.Get("Subject") != "New file report.bin from" || first.header.Get("Cc") != "audit@example.com" ||
		!strings.Contains(first.text, "/users/"+u.ID+"/in/report.bin arrived (10014 bytes).") ||
		hex.EncodeToString(got[:]) != hex.EncodeToString(sum[:]) || !strings.Contains(string(msgs[0]), "X-Rcpt-To: accounts@example.com, audit@example.com") {
		t.Fatalf("first message: %v %q attachments %d", first.header, first.text, len(first.attachments))
	}
	if len(second.attachments) != 0 || !strings.Contains(second.text, "larger than 1 MiB") || !strings.Contains(second.text, ts.URL()+"/s/") {
		t.Fatalf("second message: %q", second.text)
	}
	// The link works, as a shared link of the user's.
	link := second.text[strings.Index(second.text, ts.URL()+"/s/")+len(ts.URL()):]
	link = strings.Fields(link)[0]
	if r := ts.do(t, "GET", link+"/download", "", ""); r.status != 200 || r.body != big {
		t.Fatalf("the link: %d (%d bytes)", r.status, len(r.body))
	}

	// A failing run: the notice goes to on_failure with the error.
	fail := ts.createAutomation(t, `{"automation":{"name":"breaks","trigger":"manual","retry":{"attempts":1},
		"notify":{"on_failure":["ops@example.com"],"on_success":["happy@example.com"]},
		"actions":[{"type":"copy","to":"/nowhere/../x"}]}}`)
	want(t, ts.do(t, "POST", "/admin/automations/"+fail+"/run", adminKey, `{"path":"/users/`+u.ID+`/in/report.bin"}`), 202)
	ts.waitRuns(t, fail, 1)
	notice := parseMail(t, sink.Messages(3)[2])
	if notice.header.Get("To") != "ops@example.com" || !strings.Contains(notice.header.Get("Subject"), "breaks failed") || !strings.Contains(notice.text, "Error: ") {
		t.Fatalf("failure notice: %v %q", notice.header, notice.text)
	}

	// Bad settings are refused.
	for _, a := range []string{`{"type":"email","subject":"x"}`, `{"type":"email","recipients":["not-an-address"],"subject":"x"}`,
		`{"type":"email","recipients":["a@b.example"]}`, `{"type":"email","recipients":["a@b.example"],"subject":"a\nBcc: x@y.example"}`,
		`{"type":"copy","to":"/x","recipients":["a@b.example"]}`} {
		r := ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"bad","trigger":"manual","actions":[`+a+`]}}`)
		if r.status != 422 {
			t.Errorf("%s: %d %s", a, r.status, r.body)
		}
	}
	r := ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"bad","trigger":"manual","notify":{"on_failure":["nope"]},"actions":[{"type":"delete"}]}}`)
	want(t, r, 422)
}
