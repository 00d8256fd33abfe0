package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
)

// /admin/sessions lists a live SFTP session of a real daemon, and DELETE
// ends it.
func TestSessions_API(t *testing.T) {
	ts := MustOpenServer(t)
	want(t, ts.do(t, "GET", "/admin/sessions", adminKey, ""), 200)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	u := ts.createUser(t, fmt.Sprintf(`{"user":{"username":"sess","ssh_keys":[%q]}}`, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))))
	d := ts.app.SFTP
	signer, _ := gossh.NewSignerFromKey(priv)
	conn, err := gossh.Dial("tcp", d.ListenAddr().String(), &gossh.ClientConfig{User: "sess",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	r := ts.do(t, "GET", "/admin/sessions", adminKey, "")
	want(t, r, 200)
	var list []struct {
		Session struct{ ID, User, IP, Protocol string } `json:"session"`
	}
	r.json(t, &list)
	if len(list) != 1 || list[0].Session.User != u.User.ID || list[0].Session.IP != "127.0.0.1" || list[0].Session.Protocol != "sftp" {
		t.Fatalf("sessions %s", r.body)
	}
	want(t, ts.do(t, "GET", "/admin/sessions", u.User.APIKey, ""), 403)
	want(t, ts.do(t, "DELETE", "/admin/sessions/ses_nope", adminKey, ""), 404)
	want(t, ts.do(t, "DELETE", "/admin/sessions/"+list[0].Session.ID, adminKey, ""), 200)
	if _, err := c.Getwd(); err == nil {
		if _, err := c.ReadDir("/"); err == nil {
			t.Fatal("the ended session still answers")
		}
	}
}
