package store_test

import (
	"context"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

func TestWebSessionStore(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewWebSessionStore(MustOpenDB(t))
		never := func(*mft.WebSession) bool { return false }
		for i, key := range []string{"k1", "k2", "k3"} {
			user := "pat"
			if key == "k3" {
				user = "sam"
			}
			ws := &mft.WebSession{UserID: user, CSRF: "c", Created: now, Seen: now.Add(time.Duration(i) * time.Minute)}
			must(t, s.CreateWebSession(ctx, key, ws, 10, never))
		}
		got, err := s.FindWebSession(ctx, "k1")
		if err != nil || got.UserID != "pat" || !got.Created.Equal(now) {
			t.Fatalf("find: %+v, %v", got, err)
		}
		if _, err := s.FindWebSession(ctx, "nosuch"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("unknown key: %v", err)
		}
		up, err := s.UpdateWebSession(ctx, "k1", func(ws *mft.WebSession) { ws.Notice = "Saved." })
		if err != nil || up.Notice != "Saved." {
			t.Fatalf("update: %+v, %v", up, err)
		}
		if got, _ := s.FindWebSession(ctx, "k1"); got.Notice != "Saved." {
			t.Fatal("the update was not stored")
		}
		must(t, s.DeleteUserWebSessions(ctx, "pat"))
		for _, key := range []string{"k1", "k2"} {
			if _, err := s.FindWebSession(ctx, key); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("pat's %s after DeleteUser: %v", key, err)
			}
		}
		if _, err := s.UpdateWebSession(ctx, "k1", func(*mft.WebSession) {}); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("update of an ended session: %v; want it not stored", err)
		}
		if n, _ := s.CountWebSessions(ctx); n != 1 {
			t.Fatalf("%d sessions; want sam's", n)
		}
		must(t, s.DeleteWebSession(ctx, "k3"))
		must(t, s.DeleteWebSession(ctx, "k3")) // twice: nothing to do
		if n, _ := s.CountWebSessions(ctx); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
	})
}

// Past the most sessions kept, a new one first pushes out the ended ones,
// then the one seen longest ago.
func TestWebSessionStore_Bounded(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewWebSessionStore(MustOpenDB(t))
		never := func(*mft.WebSession) bool { return false }
		for i, key := range []string{"old", "mid", "new"} {
			must(t, s.CreateWebSession(ctx, key, &mft.WebSession{UserID: "pat", Seen: now.Add(time.Duration(i) * time.Hour)}, 3, never))
		}
		must(t, s.CreateWebSession(ctx, "fourth", &mft.WebSession{UserID: "pat", Seen: now.Add(4 * time.Hour)}, 3, never))
		if _, err := s.FindWebSession(ctx, "old"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("the session seen longest ago stayed past the limit: %v", err)
		}
		endedMid := func(ws *mft.WebSession) bool { return ws.Seen.Equal(now.Add(time.Hour)) }
		must(t, s.CreateWebSession(ctx, "fifth", &mft.WebSession{UserID: "sam", Seen: now.Add(5 * time.Hour)}, 3, endedMid))
		if _, err := s.FindWebSession(ctx, "mid"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("an ended session stayed past the limit: %v", err)
		}
		if _, err := s.FindWebSession(ctx, "new"); err != nil {
			t.Fatalf("a live session was pushed out although an ended one went: %v", err)
		}
		if n, _ := s.CountWebSessions(ctx); n != 3 {
			t.Fatalf("%d sessions; want 3", n)
		}
	})
}

func TestBanStore(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewBanStore(db)
		must(t, s.PutBan(ctx, mft.Ban{IP: "192.0.2.1", Until: now.Add(time.Minute), Failures: 5}))
		must(t, s.PutBan(ctx, mft.Ban{IP: "192.0.2.2", Until: now.Add(time.Hour), Failures: 6}))
		if list, err := s.Bans(ctx); err != nil || len(list) != 2 {
			t.Fatalf("bans %v, %v", list, err)
		}
		must(t, s.PutBan(ctx, mft.Ban{IP: "192.0.2.3", Until: now.Add(time.Hour)}))
		if n, err := s.DeleteBansBefore(ctx, now.Add(2*time.Minute)); err != nil || n != 1 {
			t.Fatalf("the sweep deleted %d, %v; want the one ban that ran out", n, err)
		}
		list, _ := s.Bans(ctx)
		for _, b := range list {
			if b.IP == "192.0.2.1" {
				t.Fatal("a ban that ran out is kept")
			}
		}
		if found, err := s.DeleteBan(ctx, "192.0.2.2"); !found || err != nil {
			t.Fatalf("delete: %v, %v", found, err)
		}
		if found, _ := s.DeleteBan(ctx, "192.0.2.2"); found {
			t.Fatal("deleted twice")
		}
		if list, _ := s.Bans(ctx); len(list) != 1 || list[0].IP != "192.0.2.3" {
			t.Fatalf("bans left %v", list)
		}
	})
}

func TestFailureStore(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewBanStore(MustOpenDB(t))
		add := func(ip string, at time.Time, want int) {
			t.Helper()
			if n, err := s.AddFailure(ctx, ip, at, 5*time.Minute); err != nil || n != want {
				t.Fatalf("AddFailure(%s, %s) = %d, %v; want %d", ip, at, n, err, want)
			}
		}
		add("192.0.2.1", now, 1)
		add("192.0.2.1", now.Add(time.Minute), 2)
		add("192.0.2.2", now, 1)
		add("192.0.2.1", now.Add(5*time.Minute+30*time.Second), 2) // the first is past the window
		must(t, s.PutBan(ctx, mft.Ban{IP: "192.0.2.1", Until: now.Add(time.Hour)}))
		add("192.0.2.1", now.Add(8*time.Minute), 1) // the ban forgot them
		if found, err := s.DeleteBan(ctx, "192.0.2.1"); !found || err != nil {
			t.Fatalf("delete ban: %v, %v", found, err)
		}
		add("192.0.2.1", now.Add(9*time.Minute), 1) // so did its lift
		if n, err := s.DeleteFailuresBefore(ctx, now.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("DeleteFailuresBefore = %d, %v; want 192.0.2.2's", n, err)
		}
		add("192.0.2.2", now.Add(10*time.Minute), 1)
	})
}
