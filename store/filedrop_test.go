package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

func newFiledrop(name string) *mft.Filedrop {
	return &mft.Filedrop{Name: name, Title: "Send us files", Owner: "joe", ExpiresAfter: 7, MaxFilesize: 10, Authorization: 3}
}

func TestFiledropStore_Filedrops(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewFiledropStore(MustOpenDB(t))
		must(t, s.CreateFiledrop(ctx, newFiledrop("Partner-Drop")))
		if err := s.CreateFiledrop(ctx, newFiledrop("partner-drop")); mft.ErrorCode(err) != mft.ECONFLICT {
			t.Fatalf("a name differing only in case: %v, want ECONFLICT", err)
		}
		if err := s.CreateFiledrop(ctx, newFiledrop("bad name")); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("a bad name: %v, want EINVALID", err)
		}
		f, err := s.FindFiledrop(ctx, "PARTNER-DROP")
		if err != nil || f.Name != "Partner-Drop" {
			t.Fatalf("found %+v, %v; want the name as given", f, err)
		}
		title, bad := "New title", 0
		if _, err := s.UpdateFiledrop(ctx, "partner-drop", mft.FiledropUpdate{Authorization: &bad}); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("bad update: %v", err)
		}
		u, err := s.UpdateFiledrop(ctx, "partner-drop", mft.FiledropUpdate{Title: &title})
		if err != nil || u.Title != title || u.Authorization != 3 || u.Name != "Partner-Drop" {
			t.Fatalf("updated = %+v, %v", u, err)
		}
		must(t, s.CreateFiledrop(ctx, newFiledrop("b")))
		if page, more, _ := s.FindFiledrops(ctx, mft.Page{Limit: 1}); len(page) != 1 || !more {
			t.Fatalf("page = %d, more %v", len(page), more)
		}
		must(t, s.DeleteFiledrop(ctx, "Partner-Drop"))
		if _, err := s.FindFiledrop(ctx, "partner-drop"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("after delete: %v", err)
		}
		if err := s.DeleteFiledrop(ctx, "partner-drop"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestFiledropStore_Submissions(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewFiledropStore(db)
		if err := s.CreateSubmission(ctx, &mft.Submission{Filedrop: "drop"}); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("no key: %v", err)
		}
		sub := &mft.Submission{KeyHash: "k1", Filedrop: "drop", ExpiresAt: now.Add(time.Hour)}
		must(t, s.CreateSubmission(ctx, sub))
		if _, err := s.FindSubmissionByKey(ctx, "other", "k1"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("key of another filedrop: %v", err)
		}
		if _, err := s.FindSubmissionByKey(ctx, "drop", ""); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("empty key: %v", err)
		}
		a1, err := s.AddAttachment(ctx, sub.ID, mft.Attachment{Filename: "a.pdf", Size: 1})
		must(t, err)
		a2, err := s.AddAttachment(ctx, sub.ID, mft.Attachment{Filename: "a.pdf", Size: 2})
		must(t, err)
		if a1.ID == "" || a2.ID != a1.ID {
			t.Fatalf("a second upload of a name got id %q, want %q", a2.ID, a1.ID)
		}
		got, err := s.FindSubmissionByKey(ctx, "drop", "k1")
		if err != nil || len(got.Attachments) != 1 || got.Attachments[0].Size != 2 {
			t.Fatalf("submission = %+v, %v", got, err)
		}
		// A refusal leaves it; a kept refusal stores the change and says why.
		if _, err := s.UpdateSubmission(ctx, sub.ID, func(x *mft.Submission) error { x.CodeTries = 9; return errors.New("no") }); err == nil {
			t.Fatal("fn's error was not returned")
		}
		why := mft.Errorf(mft.EFORBIDDEN, "wrong code")
		if _, err := s.UpdateSubmission(ctx, sub.ID, func(x *mft.Submission) error { x.CodeTries = 1; return mft.Keep(why) }); err != why {
			t.Fatalf("kept error = %v", err)
		}
		if got, _ := s.FindSubmissionByKey(ctx, "drop", "k1"); got.CodeTries != 1 {
			t.Fatalf("code tries = %d, want 1 (the kept change, not the refused one)", got.CodeTries)
		}
		m := &mft.Message{Filedrop: "drop", Recipients: []string{"joe", "ann"}, ExpiresAt: now.Add(24 * time.Hour)}
		must(t, s.Deliver(ctx, sub.ID, m))
		if err := s.Deliver(ctx, sub.ID, &mft.Message{}); mft.ErrorCode(err) != mft.ECONFLICT {
			t.Fatalf("second delivery: %v", err)
		}
		if _, err := s.FindSubmissionByKey(ctx, "drop", "k1"); mft.ErrorCode(err) != mft.EEXPIRED {
			t.Fatalf("a delivered submission's key: %v, want EEXPIRED", err)
		}
		if got, err := s.FindMessage(ctx, m.ID); err != nil || got.Filedrop != "drop" {
			t.Fatalf("message = %+v, %v", got, err)
		}
		if list, _, _ := s.FindMessagesFor(ctx, "ann", mft.Page{}); len(list) != 1 {
			t.Fatalf("ann's messages = %d", len(list))
		}
		if list, _, _ := s.FindMessagesFor(ctx, "eve", mft.Page{}); len(list) != 0 {
			t.Fatalf("eve's messages = %d", len(list))
		}
		if exp, _ := s.FindExpiredMessages(ctx, now.Add(48*time.Hour)); len(exp) != 1 {
			t.Fatalf("expired messages = %d", len(exp))
		}
		must(t, s.DeleteMessage(ctx, m.ID))
		if _, err := s.FindMessage(ctx, m.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("deleted message: %v", err)
		}

		late := &mft.Submission{KeyHash: "k2", Filedrop: "drop", ExpiresAt: now.Add(time.Minute)}
		must(t, s.CreateSubmission(ctx, late))
		db.Now = func() time.Time { return now.Add(2 * time.Minute) }
		if _, err := s.FindSubmissionByKey(ctx, "drop", "k2"); mft.ErrorCode(err) != mft.EEXPIRED {
			t.Fatalf("an expired key: %v, want EEXPIRED", err)
		}
		stale, _ := s.FindStaleSubmissions(ctx, now.Add(2*time.Minute))
		if len(stale) != 1 || stale[0].ID != late.ID {
			t.Fatalf("stale = %v", stale)
		}
		must(t, s.DeleteSubmission(ctx, late.ID))
		if _, err := s.FindSubmissionByKey(ctx, "drop", "k2"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("a deleted submission's key: %v", err)
		}
	})
}
