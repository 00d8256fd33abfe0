package store_test

import (
	"context"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

// TestAS2Store_MessagesPastRetention: old messages go with the
// Message-IDs they claimed; newer ones and their claims stay.
func TestAS2Store_MessagesPastRetention(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		s := store.NewAS2Store(db)
		old := &mft.AS2Message{Direction: mft.AS2In, Partner: "p", MessageID: "<old@a>", Status: mft.AS2Processed}
		must(t, s.RecordAS2Message(ctx, old))
		now = now.Add(48 * time.Hour)
		fresh := &mft.AS2Message{Direction: mft.AS2In, Partner: "p", MessageID: "<new@a>", Status: mft.AS2Processed}
		must(t, s.RecordAS2Message(ctx, fresh))
		n, err := s.DeleteAS2MessagesBefore(ctx, now.Add(-24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("deleted %d, %v; want 1", n, err)
		}
		list, _, _ := s.FindAS2Messages(ctx, mft.AS2Filter{})
		if len(list) != 1 || list[0].ID != fresh.ID {
			t.Fatalf("left: %+v", list)
		}
		// The old Message-ID may be used again; the new one may not.
		must(t, s.RecordAS2Message(ctx, &mft.AS2Message{Direction: mft.AS2In, Partner: "p", MessageID: "<old@a>", Status: mft.AS2Processed}))
		if err := s.RecordAS2Message(ctx, &mft.AS2Message{Direction: mft.AS2In, Partner: "p", MessageID: "<new@a>", Status: mft.AS2Processed}); mft.ErrorCode(err) != mft.ECONFLICT {
			t.Fatalf("a claimed Message-ID again: %v", err)
		}
	})
}
