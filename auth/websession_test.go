package auth_test

import (
	"testing"
	"time"

	"depot/auth"
	"depot/mft"
)

func TestWebSessions_EndAfterTTLAndIdle(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	w := &auth.WebSessions{TTL: 12 * time.Hour, Idle: time.Hour, Now: func() time.Time { return now }}
	pat := &mft.User{ID: "pat", PasswordHash: "h1"}
	cookie, s := w.Start(pat)
	if s.UserID != "pat" || s.CSRF == "" || s.PasswordMark != auth.PasswordMark("h1") || auth.PasswordMark("h2") == s.PasswordMark {
		t.Fatalf("session %+v", s)
	}

	// Used every 50 minutes it outlives the idle hour, but not the TTL.
	for range 15 {
		now = now.Add(50 * time.Minute)
		if _, err := w.Find(cookie); err != nil && now.Sub(s.Created) < 12*time.Hour {
			t.Fatalf("ended after %s: %v", now.Sub(s.Created), err)
		}
	}
	if _, err := w.Find(cookie); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("alive after %s: %v", now.Sub(s.Created), err)
	}
	if w.Len() != 0 {
		t.Errorf("an ended session is kept: %d", w.Len())
	}

	// Unused for an hour it ends.
	cookie, _ = w.Start(pat)
	now = now.Add(time.Hour)
	if _, err := w.Find(cookie); err == nil {
		t.Fatal("alive after an idle hour")
	}
	if _, err := w.Find("made-up"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("unknown cookie: %v", err)
	}
}

func TestWebSessions_FlashAndEndUser(t *testing.T) {
	w := &auth.WebSessions{}
	a, _ := w.Start(&mft.User{ID: "pat"})
	b, _ := w.Start(&mft.User{ID: "pat"})
	c, sc := w.Start(&mft.User{ID: "sam"})
	if !sc.CSRFMatches(sc.CSRF) || sc.CSRFMatches("") || sc.CSRFMatches(sc.CSRF+"x") {
		t.Error("CSRF comparison")
	}
	w.Flash(a, "Saved.", "")
	if n, f := w.TakeFlash(a); n != "Saved." || f != "" {
		t.Errorf("flash %q %q", n, f)
	}
	if n, _ := w.TakeFlash(a); n != "" {
		t.Error("a notice shown twice")
	}
	w.EndUser("pat")
	for _, ck := range []string{a, b} {
		if _, err := w.Find(ck); err == nil {
			t.Error("pat's session survived EndUser")
		}
	}
	if _, err := w.Find(c); err != nil {
		t.Errorf("sam's session ended with pat's: %v", err)
	}
	w.End(c)
	if w.Len() != 0 {
		t.Errorf("%d sessions left", w.Len())
	}
}
