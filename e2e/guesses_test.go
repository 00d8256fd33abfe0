package e2e

import (
	"net/url"
	"strings"
	"sync"
	"testing"

	"depot/internal/apptest"
)

// parallel sends n requests at once and counts their statuses.
func parallel(n int, send func() int) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			s := send()
			mu.Lock()
			statuses[s]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return statuses
}

// Every secret a stranger can guess is reserved with the defender before
// it is checked: 60 parallel wrong guesses from one address get at most
// max_failures (5 here) answers, the rest are refused (403 banned, 429
// busy) without a check. Found by hardening II: 54–60 wrong answers
// before the ban for link and filedrop passwords, 55 for the web
// password form.
func TestDefender_ParallelGuessesOfEverySecret(t *testing.T) {
	owner := func(t *testing.T, ts *testServer) *struct{ ID, APIKey string } {
		u := ts.createUser(t, `{"user":{"email":"owner@example.com","password":"correct-horse"}}`).User
		return &struct{ ID, APIKey string }{u.ID, u.APIKey}
	}
	cases := map[string]func(t *testing.T, ts *testServer) func() int{
		"link password": func(t *testing.T, ts *testServer) func() int {
			u := owner(t, ts)
			want(t, ts.put(t, u.APIKey, "/a.txt", "alpha"), 201)
			l := ts.createLink(t, u.APIKey, `{"link":{"path":"/a.txt","password":"open-sesame-1"}}`).Link
			return func() int { return ts.get(t, "/s/"+l.ID+"/download", "wrong-password").status }
		},
		"filedrop password": func(t *testing.T, ts *testServer) func() int {
			u := owner(t, ts)
			want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"D","owner":"`+u.ID+`","password":"open-sesame-1"}}`), 201)
			return func() int { r, _ := ts.openFiledrop(t, "drop", "wrong-password"); return r.status }
		},
		"dropzone token": func(t *testing.T, ts *testServer) func() int {
			d := ts.createDropzone(t, adminKey, `{"dropzone":{"name":"dz","gb":1,"days":30}}`).Dropzone
			return func() int {
				return ts.do(t, "GET", "/api/dropzones/"+d.ID, "WRONGTOKEN0123456789ABCDEFGHIJKL", "").status
			}
		},
		"trigger token": func(t *testing.T, ts *testServer) func() int {
			id := ts.createAutomation(t, `{"automation":{"name":"a","trigger":"manual","actions":[{"type":"copy","to":"/archive/"}]}}`)
			want(t, ts.do(t, "POST", "/admin/automations/"+id+"/trigger_token", adminKey, ""), 200)
			return func() int {
				return ts.do(t, "POST", "/api/automations/"+id+"/trigger", "WRONGTOKEN0123456789ABCDEFGHIJKL", "").status
			}
		},
		"filedrop upload key": func(t *testing.T, ts *testServer) func() int {
			u := owner(t, ts)
			want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"D","owner":"`+u.ID+`"}}`), 201)
			s := &sender{ts: ts, name: "drop", key: "WRONGKEY0123456789ABCDEFGHIJKLMN"}
			return func() int { return s.upload(t, "filename=a.txt", "x").status }
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			ts := MustOpenServer(t)
			send := setup(t, ts)
			statuses := parallel(60, send)
			t.Logf("60 parallel wrong guesses: %v", statuses)
			// Refused: banned (403), too many checked at once (429), or for
			// an anonymous upload, no upload slot free (503).
			if statuses[401] > 5 || statuses[401]+statuses[403]+statuses[429]+statuses[503] != 60 {
				t.Errorf("60 parallel wrong guesses: %v, want at most 5 answered 401 and the rest refused", statuses)
			}
		})
	}

	// The web client's password form: at most 5 wrong current passwords
	// are checked (each audited as a failed login), the rest refused.
	t.Run("password form", func(t *testing.T) {
		ts := MustOpenServer(t)
		owner(t, ts)
		b := newWebBrowser(ts)
		wantPage(t, b.signIn(t, "owner@example.com", "correct-horse"), 200, "Files")
		wantPage(t, b.get(t, "/web/account"), 200, "")
		csrf := b.csrf
		parallel(50, func() int {
			form := url.Values{"old": {"wrong-horse"}, "new": {"new-password-1"}, "csrf": {csrf}}
			return exchange(t, b.c, "POST", ts.URL()+"/web/account/password", strings.NewReader(form.Encode()),
				"application/x-www-form-urlencoded", nil).status
		})
		checked := 0
		for _, ev := range apptest.Events(t, ts.app, "user.login_failed") {
			if strings.Contains(ev.Message, "wrong current password") {
				checked++
			}
		}
		t.Logf("50 parallel wrong current passwords: %d checked", checked)
		if checked == 0 || checked > 5 {
			t.Errorf("%d wrong current passwords were checked, want 1 to 5", checked)
		}
	})
}
