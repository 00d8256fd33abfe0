package automation

import (
	"container/heap"
	"time"
)

// queue holds the jobs waiting to run, earliest NotBefore first: adding and
// taking one is O(log n), however long the backlog (a webhook receiver that
// is down for hours piles up deliveries).
type queue[T any] struct {
	items []T
	due   func(T) time.Time
}

func newQueue[T any](due func(T) time.Time) *queue[T] { return &queue[T]{due: due} }

// push adds a job.
func (q *queue[T]) push(v T) { heap.Push((*queueHeap[T])(q), v) }

// next returns when the earliest job is due; ok is false for an empty queue.
func (q *queue[T]) next() (time.Time, bool) {
	if len(q.items) == 0 {
		return time.Time{}, false
	}
	return q.due(q.items[0]), true
}

// pop takes the earliest job.
func (q *queue[T]) pop() T { return heap.Pop((*queueHeap[T])(q)).(T) }

// queueHeap implements heap.Interface for queue.
type queueHeap[T any] queue[T]

func (h *queueHeap[T]) Len() int           { return len(h.items) }
func (h *queueHeap[T]) Less(i, j int) bool { return h.due(h.items[i]).Before(h.due(h.items[j])) }
func (h *queueHeap[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *queueHeap[T]) Push(x any)         { h.items = append(h.items, x.(T)) }
func (h *queueHeap[T]) Pop() any {
	n := len(h.items) - 1
	v := h.items[n]
	var zero T
	h.items[n] = zero
	h.items = h.items[:n]
	return v
}
