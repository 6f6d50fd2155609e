package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// Access records (and the gateway's spans) leave the request path through a batchQueue: a request
// appends its record under a mutex (no channel send, no goroutine wake-up per request) and the
// publisher drains a whole batch at most every accessBatchDelay. When nothing is logged the
// publisher sleeps (no ticker).
const (
	accessQueueMax   = 8192                  // records held at most; beyond that they are dropped and counted
	accessBatchDelay = 20 * time.Millisecond // how long the publisher lets a batch grow before draining it
)

type batchQueue[T any] struct {
	mu      sync.Mutex
	buf     []T
	spare   []T           // the previous batch's storage, reused
	kick    chan struct{} // one token: the queue went from empty to non-empty
	dropped atomic.Int64
}

// accessQueue carries access records to the bus and the log ring.
type accessQueue = batchQueue[event.Access]

func newAccessQueue() *accessQueue { return newBatchQueue[event.Access]() }

func newBatchQueue[T any]() *batchQueue[T] {
	return &batchQueue[T]{buf: make([]T, 0, 256), kick: make(chan struct{}, 1)}
}

// push queues a record; it never blocks.
func (q *batchQueue[T]) push(a T) {
	q.mu.Lock()
	if len(q.buf) >= accessQueueMax {
		q.mu.Unlock()
		q.dropped.Add(1)
		return
	}
	q.buf = append(q.buf, a)
	first := len(q.buf) == 1
	q.mu.Unlock()
	if first {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
}

// drain hands every queued record, oldest first, to emit, in one batch (which emit must not keep).
func (q *batchQueue[T]) drain(emit func([]T)) {
	q.mu.Lock()
	batch := q.buf
	q.buf = q.spare[:0]
	q.mu.Unlock()
	if len(batch) > 0 {
		emit(batch)
	}
	clear(batch) // do not keep the strings of old records alive
	q.mu.Lock()
	q.spare = batch
	q.mu.Unlock()
}

// run drains the queue until ctx ends, then drains what is left.
func (q *batchQueue[T]) run(ctx context.Context, emit func([]T)) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-q.kick:
		case <-ctx.Done():
			q.drain(emit)
			return
		}
		t.Reset(accessBatchDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		q.drain(emit)
	}
}
