package flowcontrol

// ring is a fixed-capacity FIFO. Capacity is set once, so pushing never
// allocates; callers guarantee it never overflows (the credit invariants
// bound every queue).
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

func newRing[T any](capacity int) ring[T] { return ring[T]{buf: make([]T, capacity)} }

func (r *ring[T]) push(v T) {
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = v
	r.n++
}

func (r *ring[T]) pop() T {
	v := r.buf[r.head]
	var zero T
	r.buf[r.head] = zero // drop the reference: a queued buffer belongs to no one once taken
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
	return v
}
