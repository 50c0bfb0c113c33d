package pipeline

import (
	"context"
	"math/bits"

	"github.com/streamstat/streamstat/flowcontrol"
	"github.com/streamstat/streamstat/internal/hashmix"
)

// emitter ships the output of a segment's last operator (or of its source)
// to the next segment. out returns the batch to append output to; flush
// ships what is ready: full batches (flushFull), every non-empty batch
// (flushAll), or everything, after which the downstream inputs are closed
// (flushFinal); close releases the channels, whatever happened.
type emitter interface {
	out(ctx context.Context) (*Batch, error)
	flush(ctx context.Context, mode flushMode) error
	// barrier sends checkpoint barrier id on every channel, after a flush.
	barrier(ctx context.Context, id uint64) error
	close()
}

type flushMode int

const (
	flushFull flushMode = iota
	flushAll
	flushFinal
)

func (p *Pipeline) newEmitter(k, i int) emitter {
	sg := p.segs[k]
	switch {
	case len(sg.down) == 0:
		return &sinkEmitter{}
	case len(sg.down) == 1 && sg.down[0].branch == nil:
		return p.edgeEmitter(sg, sg.down[0], i)
	}
	return p.newFanEmitter(sg, i)
}

// edgeEmitter ships instance i of up's output to down.
func (p *Pipeline) edgeEmitter(up, down *segment, i int) emitter {
	size := p.cfg.BatchSize
	switch down.input {
	case Forward:
		return &senderEmitter{senders: []*flowcontrol.Sender[*Batch]{down.gates[i].Sender(0)}, size: size}
	case ByKey:
		e := &keyEmitter{size: size, held: make([]*Batch, down.par), lockstep: down.lockstep()}
		for _, g := range down.gates {
			e.senders = append(e.senders, g.Sender(i))
		}
		return e
	default:
		e := &senderEmitter{size: size}
		for _, g := range down.gates {
			e.senders = append(e.senders, g.Sender(i))
		}
		return e
	}
}

// sinkEmitter drops the output of the last stage.
type sinkEmitter struct{ b Batch }

func (e *sinkEmitter) out(context.Context) (*Batch, error) { return &e.b, nil }

func (e *sinkEmitter) flush(context.Context, flushMode) error {
	e.b.Reset()
	return nil
}

func (e *sinkEmitter) close() {}

func (e *sinkEmitter) barrier(context.Context, uint64) error { return nil }

// sendBarrier sends barrier id through s, in b or, if b is nil, in a buffer
// it acquires.
func sendBarrier(ctx context.Context, s *flowcontrol.Sender[*Batch], b *Batch, id uint64) error {
	if b == nil {
		var err error
		if b, err = s.Acquire(ctx); err != nil {
			return err
		}
	}
	b.Reset()
	b.barrier = id
	return s.Send(ctx, b)
}

func (e *senderEmitter) barrier(ctx context.Context, id uint64) error {
	for j, s := range e.senders {
		var b *Batch
		if j == e.next {
			b, e.held = e.held, nil // empty after the flush
		}
		if err := sendBarrier(ctx, s, b, id); err != nil {
			return err
		}
	}
	return nil
}

func (e *keyEmitter) barrier(ctx context.Context, id uint64) error {
	for j, s := range e.senders {
		b := e.held[j]
		e.held[j] = nil
		if err := sendBarrier(ctx, s, b, id); err != nil {
			return err
		}
	}
	return nil
}

// senderEmitter writes straight into a downstream buffer and sends it when
// full, to one receiver (Forward) or to each in turn (RoundRobin).
type senderEmitter struct {
	senders []*flowcontrol.Sender[*Batch]
	next    int
	held    *Batch
	size    int
}

func (e *senderEmitter) out(ctx context.Context) (*Batch, error) {
	if e.held == nil {
		b, err := e.senders[e.next].Acquire(ctx)
		if err != nil {
			return nil, err
		}
		b.Reset()
		e.held = b
	}
	return e.held, nil
}

func (e *senderEmitter) flush(ctx context.Context, mode flushMode) error {
	if b := e.held; mode == flushFinal && b != nil && b.Len() > 0 {
		// The last batch needs no buffer in exchange: it never waits.
		e.held = nil
		if err := e.senders[e.next].SendLast(b); err != nil {
			return err
		}
	}
	if b := e.held; b != nil && (b.Len() >= e.size || mode != flushFull && b.Len() > 0) {
		if err := e.senders[e.next].Send(ctx, b); err != nil {
			return err
		}
		e.held = nil
		e.next = (e.next + 1) % len(e.senders)
	}
	if mode == flushFinal {
		e.close()
	}
	return nil
}

func (e *senderEmitter) close() {
	if e.held != nil {
		e.senders[e.next].Discard(e.held)
		e.held = nil
	}
	for _, s := range e.senders {
		s.Close()
	}
}

// keyEmitter partitions output records by key hash into one buffer per
// downstream instance.
//
// In lockstep, which ordered receivers need, every flush sends one batch,
// possibly empty, to every instance: a round. A receiver taking one batch
// per input in strict turn then always finds the batch it waits for on its
// way, whereas with batches sent only when full, a sender blocked on one
// receiver's full channel can hold back the batch another receiver waits
// for, which waits in turn on the first: a deadlock.
type keyEmitter struct {
	scratch  Batch
	senders  []*flowcontrol.Sender[*Batch]
	held     []*Batch
	size     int
	lockstep bool
}

func (e *keyEmitter) out(context.Context) (*Batch, error) { return &e.scratch, nil }

func (e *keyEmitter) flush(ctx context.Context, mode flushMode) error {
	for i := range e.scratch.Records {
		j := e.receiver(e.scratch.Records[i].Hash)
		b, err := e.target(ctx, j)
		if err != nil {
			return err
		}
		b.AddRecord(&e.scratch, i)
		if b.Len() >= e.size && !e.lockstep {
			if err := e.senders[j].Send(ctx, b); err != nil {
				return err
			}
			e.held[j] = nil
		}
	}
	e.scratch.Reset()
	if e.lockstep && mode != flushFinal {
		for j := range e.held {
			b, err := e.target(ctx, uint64(j))
			if err != nil {
				return err
			}
			if err := e.senders[j].Send(ctx, b); err != nil {
				return err
			}
			e.held[j] = nil
		}
	}
	if mode != flushFull {
		for j, b := range e.held {
			if b == nil || b.Len() == 0 {
				continue
			}
			e.held[j] = nil
			var err error
			if mode == flushFinal {
				err = e.senders[j].SendLast(b) // never waits
			} else {
				err = e.senders[j].Send(ctx, b)
			}
			if err != nil {
				return err
			}
		}
	}
	if mode == flushFinal {
		e.close()
	}
	return nil
}

// receiver returns the instance that takes a record of hash h.
// Partitioning by the mixed hash (murmur3's finalizer) makes every bit of
// the record hash vary within each partition, so the sketches and key
// samplers downstream, which slice bits out of the same hash, see a
// uniform hash in every instance.
func (e *keyEmitter) receiver(h uint64) uint64 {
	j, _ := bits.Mul64(hashmix.Fmix64(h), uint64(len(e.senders)))
	return j
}

// target returns the batch held for instance j, acquiring one if needed.
func (e *keyEmitter) target(ctx context.Context, j uint64) (*Batch, error) {
	if b := e.held[j]; b != nil {
		return b, nil
	}
	b, err := e.senders[j].Acquire(ctx)
	if err != nil {
		return nil, err
	}
	b.Reset()
	e.held[j] = b
	return b, nil
}

func (e *keyEmitter) close() {
	for j, b := range e.held {
		if b != nil {
			e.senders[j].Discard(b)
			e.held[j] = nil
		}
	}
	for _, s := range e.senders {
		s.Close()
	}
}
