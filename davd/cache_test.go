package davd

import (
	"testing"
	"time"

	"golang.org/x/net/webdav"
)

// A user holds at most maxLocks locks; expired ones make room again.
func TestLocksAreBounded(t *testing.T) {
	var ls lockSystems
	b := ls.of("joe")
	now := time.Now()
	for i := range maxLocks {
		if _, err := b.Create(now, webdav.LockDetails{Root: "/f" + string(rune('a'+i%26)) + string(rune(i)), Duration: -1}); err != nil {
			t.Fatalf("lock %d: %v", i, err)
		}
	}
	if _, err := b.Create(now, webdav.LockDetails{Root: "/one-more", Duration: time.Second}); err != errTooManyLocks {
		t.Fatalf("lock %d: %v", maxLocks+1, err)
	}
	if ls.of("ann") == b {
		t.Fatal("two users share locks")
	}
	if _, err := b.Create(now.Add(maxLockTime), webdav.LockDetails{Root: "/later", Duration: time.Second}); err != nil {
		t.Fatalf("after the locks expired (an hour at most, Infinite included): %v", err)
	}
}
