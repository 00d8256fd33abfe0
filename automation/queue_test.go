package automation

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestQueueOrder(t *testing.T) {
	base := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	q := newQueue(func(d time.Duration) time.Time { return base.Add(d) })
	if _, ok := q.next(); ok {
		t.Fatal("empty queue has a next")
	}
	for _, i := range rand.Perm(1000) {
		q.push(time.Duration(i) * time.Second)
	}
	for want := range 1000 {
		at, ok := q.next()
		if got := q.pop(); !ok || got != time.Duration(want)*time.Second || !at.Equal(base.Add(got)) {
			t.Fatalf("pop %d: got %v (next %v %v)", want, got, at, ok)
		}
	}
}
