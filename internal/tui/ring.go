package tui

// ring is a bounded FIFO: pushing onto a full ring drops the oldest element. Every element ever
// pushed has an absolute index (0, 1, 2, …) that stays valid until it is dropped, so views can hold
// positions that survive eviction.
type ring[T any] struct {
	buf   []T
	start int    // slot of the oldest element
	n     int    // number of elements held
	total uint64 // number of elements ever pushed
}

func newRing[T any](capacity int) *ring[T] {
	if capacity < 1 {
		capacity = 1
	}
	return &ring[T]{buf: make([]T, capacity)}
}

// push appends v, evicting the oldest element when full. It reports whether one was evicted.
func (r *ring[T]) push(v T) (evicted bool) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = v
		r.n++
	} else {
		r.buf[r.start] = v
		r.start = (r.start + 1) % len(r.buf)
		evicted = true
	}
	r.total++
	return evicted
}

func (r *ring[T]) len() int { return r.n }
func (r *ring[T]) cap() int { return len(r.buf) }

// first is the absolute index of the oldest element held (== next() when empty).
func (r *ring[T]) first() uint64 { return r.total - uint64(r.n) }

// next is the absolute index the next pushed element will get.
func (r *ring[T]) next() uint64 { return r.total }

// at returns the i-th element held, 0 being the oldest.
func (r *ring[T]) at(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

// ptr returns a pointer to the i-th element held (valid until the next push).
func (r *ring[T]) ptr(i int) *T { return &r.buf[(r.start+i)%len(r.buf)] }

// abs returns the element with absolute index a, if it is still held.
func (r *ring[T]) abs(a uint64) (T, bool) {
	var zero T
	if a < r.first() || a >= r.total {
		return zero, false
	}
	return r.at(int(a - r.first())), true
}

// reset drops every element but keeps counting absolute indexes.
func (r *ring[T]) reset() {
	clear(r.buf)
	r.start, r.n = 0, 0
}
