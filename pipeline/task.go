package pipeline

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/streamstat/streamstat/flowcontrol"
)

// task is one goroutine: instance idx of segment seg.
type task struct {
	p       *Pipeline
	seg     *segment
	idx     int
	src     Source                    // set for the source segment
	gate    *flowcontrol.Gate[*Batch] // set otherwise
	chain   []*instance
	names   []string
	stages  []int    // stage index of each chained operator
	scratch []*Batch // outputs of all but the last chained operator
	srcBuf  *Batch   // what the source fills when operators are chained to it
	emit    emitter
	shed    Shedder
	gather  gatherer // with a shedder: kept records into full batches
	barrier uint64   // the last barrier this task injected or forwarded
	// cur is the chained operator running (in Process or MarshalBinary,
	// under its lock), or -1: a panic names it and unlocks it.
	cur int
	// With a shedder in front of a channel the pipeline put there (see
	// inlineSlot): the source's view of the receiving task (inlineTo) and
	// what it ran there, and the receiving task's side (slot).
	inlineTo *inlineSlot
	inlined  inlineStats
	slot     *inlineSlot
}

func (p *Pipeline) newTask(k, i int) *task {
	sg := p.segs[k]
	t := &task{p: p, seg: sg, idx: i, cur: -1}
	if sg.first < 0 {
		t.src = p.sources[i]
	} else {
		t.gate = sg.gates[i]
	}
	if sg.last >= 0 {
		// The source segment (first == -1) chains from stage 0.
		for s := max(sg.first, 0); s <= sg.last; s++ {
			t.chain = append(t.chain, p.ops[s][i])
			t.names = append(t.names, p.stages[s].Name)
			t.stages = append(t.stages, s)
		}
	}
	for range max(len(t.chain)-1, 0) {
		t.scratch = append(t.scratch, new(Batch))
	}
	if t.src != nil && len(t.chain) > 0 {
		t.srcBuf = new(Batch)
	}
	t.emit = p.newEmitter(k, i)
	if t.src != nil && p.sheds != nil {
		t.shed = p.sheds[i]
	}
	t.linkInline(k, i)
	return t
}

func (t *task) run(ctx context.Context) (err error) {
	defer t.emit.close()
	if c := t.p.coord; c != nil {
		defer c.finish()
	}
	defer t.recoverPanic(&err)
	if t.src != nil {
		return t.runSource(ctx)
	}
	return t.runGate(ctx)
}

func (t *task) runSource(ctx context.Context) error {
	size := t.p.cfg.BatchSize
	if t.shed != nil {
		t.gather.start()
		defer t.gather.stop()
	}
	done := ctx.Done()
	for {
		// A source that returns without records, and without looking at
		// ctx, must not keep its goroutine, and so Run, going after the
		// run is cancelled (another task failed).
		select {
		case <-done:
			return context.Cause(ctx)
		default:
		}
		if n := t.p.barrier.Load(); n > t.barrier {
			t.inlined.fresh = false // the next Fill starts after the barrier
			if err := t.injectBarrier(ctx, n); err != nil {
				return err
			}
		}
		if t.shed != nil && len(t.chain) == 0 {
			if done, err := t.shedFill(ctx, size); done || err != nil {
				return err
			}
			continue
		}
		in := t.srcBuf
		if in == nil {
			var err error
			if in, err = t.emit.out(ctx); err != nil {
				return err
			}
		} else {
			in.Reset()
		}
		err := t.fill(ctx, in, max(size-in.Len(), 1))
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("pipeline: source %d: %w", t.idx, err)
		}
		// With a shedder, every Fill is shipped at once, so that a live
		// stream's records wait for no batch to fill; the batch in holds
		// only what this Fill appended.
		mode := flushFull
		if t.shed != nil {
			t.shed.Shed(in, t.p.clock.Now(), t.pressure())
			mode = flushAll
		}
		if perr := t.process(ctx, in, mode); perr != nil {
			return perr
		}
		if err != nil { // io.EOF
			return t.emit.flush(ctx, flushFinal)
		}
	}
}

func (t *task) runGate(ctx context.Context) error {
	g := t.gate
	n := g.Inputs()
	ordered := t.seg.ordered()
	alive := make([]bool, n)
	for i := range alive {
		alive[i] = true
	}
	// An ordered instance never holds an input back for a checkpoint: it
	// snapshots at the first barrier and logs (see ordered.go).
	restored, err := t.restoredOrder(n)
	if err != nil {
		return err
	}
	turn, pending := restored.turn, restored.pending
	if !ordered {
		// Logged by an instance that took its inputs in turn, restored
		// into one that does not (Config.Unordered changed): no order
		// to keep, but every record to count.
		for _, q := range pending {
			for _, b := range q {
				if err := t.process(ctx, b, flushFull); err != nil {
					return err
				}
			}
		}
		pending = nil
	}
	if ordered {
		for i := range n {
			if i != turn {
				g.Pause(i)
			}
		}
	}
	al := aligner{arrived: make([]bool, n), held: make([]bool, n)}
	holding := t.p.coord != nil && !t.p.coord.cfg.AtLeastOnce && !ordered
	logging := t.p.coord != nil && !t.p.coord.cfg.AtLeastOnce && ordered
	var olog orderLog
	// advance passes the turn to the next live input after turn that is
	// not held for alignment; with none, every input waits.
	advance := func() {
		for j := 1; j <= n; j++ {
			if c := (turn + j) % n; alive[c] && !al.held[c] {
				g.Pause(turn)
				turn = c
				g.Resume(turn)
				return
			}
		}
		g.Pause(turn)
	}
	// A held input is not paused: the instance goes on reading it and
	// sets its batches aside (stash), to process them, in arrival order,
	// once the alignment completes. Pausing it would let a cycle through
	// the credits form: its sender, blocked on the held channel, cannot
	// send what another instance waits for (a by-key instance taking that
	// sender's batch in turn), whose sender in turn cannot get the barrier
	// this instance waits for past it (TestFanOutTwoSourcesCheckpointNoDeadlock).
	var stash, spare []*Batch
	// release ends the holding; the stash is processed before anything
	// else is received.
	release := func() {
		clear(al.held)
	}
	// aligned completes the alignment once every live input has delivered
	// the barrier: snapshot, forward, release the held inputs.
	aligned := func() error {
		if al.id == 0 || !al.complete(alive) {
			return nil
		}
		id := al.id
		al.id = 0
		if logging {
			parts := append(al.parts, write{id: id, name: partName("order", t.stages[0], t.idx), data: olog.encode()})
			t.p.coord.ack(id, parts, t.p.clock.Now().Sub(al.start), 0, al.pause)
			return nil
		}
		if al.unaligned {
			parts := append(al.parts, write{id: id, name: partName("inflight", t.stages[0], t.idx), data: al.log})
			t.p.coord.ack(id, parts, t.p.clock.Now().Sub(al.start), 0, al.pause)
			return nil
		}
		if err := t.forwardBarrier(ctx, id, t.p.clock.Now().Sub(al.start)); err != nil {
			return err
		}
		release()
		return nil
	}
	// unalign gives up waiting: snapshot now, forward the barrier, release
	// the held inputs, and log what the late inputs deliver before their
	// barriers as part of the checkpoint (Flink's unaligned checkpoints).
	unalign := func() error {
		al.unaligned = true
		t.p.coord.wentUnaligned()
		start := t.p.clock.Now()
		parts, err := t.snapshot(al.id)
		if err != nil {
			return err
		}
		al.parts, al.pause, al.log = parts, t.p.clock.Now().Sub(start), al.log[:0]
		t.barrier = al.id
		if err := t.sendBarrier(ctx, al.id); err != nil {
			return err
		}
		release()
		return nil
	}
	t.slot.enter(t)
	defer t.slot.leave()
	if err := t.replay(ctx); err != nil {
		return err
	}
	// snapshotFirst is an ordered instance's part at the first barrier:
	// snapshot, forward the barrier, log the other inputs until theirs.
	snapshotFirst := func(id uint64) error {
		start := t.p.clock.Now()
		parts, err := t.snapshot(id)
		if err != nil {
			return err
		}
		al.parts, al.pause = parts, t.p.clock.Now().Sub(start)
		t.barrier = id
		olog.start(turn, n)
		return t.sendBarrier(ctx, id)
	}
	// take processes a batch from input, logging it if it came before
	// the input's barrier but after the snapshot.
	take := func(input int, b *Batch) error {
		if al.id != 0 && !al.arrived[input] {
			if al.unaligned {
				al.log = appendBatch(al.log, b) // in flight across the barrier
			}
			if logging {
				olog.add(input, b)
			}
		}
		return t.process(ctx, b, flushFull)
	}
	timeout := time.Duration(0)
	if holding {
		timeout = t.p.coord.cfg.AlignmentTimeout
	}
	for {
		if len(stash) > 0 && !al.holding() {
			// Batches held inputs delivered after their barriers, in
			// arrival order, before anything else.
			for i, b := range stash {
				if err := t.process(ctx, b, flushFull); err != nil {
					return err
				}
				b.Reset()
				spare, stash[i] = append(spare, b), nil
			}
			stash = stash[:0]
		}
		if ordered && turn < len(pending) && len(pending[turn]) > 0 {
			// Restored batches come first, each in its input's turn.
			b := pending[turn][0]
			pending[turn] = pending[turn][1:]
			if err := take(turn, b); err != nil {
				return err
			}
			advance()
			continue
		}
		rctx, cancel := ctx, context.CancelFunc(nil)
		if al.id != 0 && !al.unaligned && timeout > 0 {
			rctx, cancel = context.WithDeadline(ctx, al.wall.Add(timeout))
		}
		t.slot.wait()
		b, input, err := g.Recv(rctx)
		t.slot.wake()
		if cancel != nil {
			cancel()
		}
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			if err := unalign(); err != nil {
				return err
			}
			continue
		}
		switch {
		case errors.Is(err, flowcontrol.ErrEndOfInput):
			alive[input] = false
			if ordered && input == turn {
				advance()
			}
			if err := aligned(); err != nil {
				return err
			}
			continue
		case errors.Is(err, flowcontrol.ErrClosed):
			return t.emit.flush(ctx, flushFinal)
		case err != nil:
			return err
		}
		if id := b.barrier; id != 0 {
			g.Release(input, b)
			if id > al.id && id > t.barrier {
				al.begin(id, t.p.clock.Now())
				if logging {
					if err := snapshotFirst(id); err != nil {
						return err
					}
				}
			}
			al.arrived[input] = true
			if holding && !al.unaligned {
				al.held[input] = true
			}
			// A barrier takes no turn: the input's next batch is still
			// due in this turn, as without checkpoints.
			if err := aligned(); err != nil {
				return err
			}
			continue
		}
		if al.held[input] {
			// Set aside, the buffer's contents swapped into one of the
			// instance's own, so that the credit goes back at once.
			var s *Batch
			if k := len(spare); k > 0 {
				s, spare = spare[k-1], spare[:k-1]
			} else {
				s = new(Batch)
			}
			s.Records, b.Records = b.Records, s.Records[:0]
			s.arena, b.arena = b.arena, s.arena[:0]
			g.Release(input, b)
			stash = append(stash, s)
			if len(stash) >= stashPerInput*n && !al.unaligned {
				// Memory stays bounded: snapshot now, as after the
				// alignment timeout.
				if err := unalign(); err != nil {
					return err
				}
			}
			continue
		}
		err = take(input, b)
		g.Release(input, b)
		if err != nil {
			return err
		}
		if ordered {
			advance()
		}
	}
}

// process runs the chained operators over in and ships the output.
func (t *task) process(ctx context.Context, in *Batch, mode flushMode) error {
	if len(t.chain) == 0 {
		return t.emit.flush(ctx, mode)
	}
	cur := in
	for j, inst := range t.chain {
		var out *Batch
		if j == len(t.chain)-1 {
			var err error
			if out, err = t.emit.out(ctx); err != nil {
				return err
			}
		} else {
			out = t.scratch[j]
			out.Reset()
		}
		before := out.Len()
		inst.mu.Lock()
		t.cur = j
		err := inst.op.Process(cur, out)
		t.cur = -1
		inst.mu.Unlock()
		if !t.p.cfg.NoMetrics {
			inst.in.Add(uint64(cur.Len()))
			inst.out.Add(uint64(out.Len() - before))
		}
		if err != nil {
			return fmt.Errorf("pipeline: %s[%d]: %w", t.names[j], t.idx, err)
		}
		cur = out
	}
	return t.emit.flush(ctx, mode)
}

// aligner tracks the alignment of one barrier across a task's inputs.
type aligner struct {
	id      uint64 // the barrier being aligned; 0 when none
	start   time.Time
	wall    time.Time // start by the wall clock, for the timeout
	arrived []bool    // inputs that delivered it
	held    []bool    // inputs whose batches are set aside until alignment completes

	// After the alignment timeout: the snapshot taken then, and the
	// batches late inputs delivered since, encoded.
	unaligned bool
	parts     []write
	pause     time.Duration
	log       []byte
}

func (a *aligner) begin(id uint64, now time.Time) {
	a.id, a.start, a.wall = id, now, time.Now()
	a.unaligned, a.parts = false, nil
	clear(a.arrived)
}

// stashPerInput bounds the batches an aligning instance sets aside, per
// input: at stashPerInput times its inputs it goes unaligned (see
// CheckpointConfig.AlignmentTimeout). A variable for the tests.
var stashPerInput = 64

// holding reports whether an input is held for the alignment.
func (a *aligner) holding() bool {
	for _, h := range a.held {
		if h {
			return true
		}
	}
	return false
}

// complete reports whether every live input delivered the barrier.
func (a *aligner) complete(alive []bool) bool {
	for i, ok := range alive {
		if ok && !a.arrived[i] {
			return false
		}
	}
	return true
}

// injectBarrier is a source's part of checkpoint id: its position or state
// and the state of the operators chained to it, then the barrier
// downstream.
func (t *task) injectBarrier(ctx context.Context, id uint64) error {
	t.barrier = id
	c := t.p.coord
	src, err := t.sourceParts(id)
	if err != nil {
		return err
	}
	start := t.p.clock.Now()
	parts, err := t.snapshot(id)
	if err != nil {
		return err
	}
	pause := t.p.clock.Now().Sub(start)
	parts = append(parts, src...)
	if st, ok := t.shed.(encoding.BinaryMarshaler); ok {
		// The keep probability in force is part of the checkpoint, so a
		// replay sheds the same records.
		data, err := st.MarshalBinary()
		if err != nil {
			return fmt.Errorf("pipeline: snapshot of source %d's shedder: %w", t.idx, err)
		}
		parts = append(parts, write{id: id, name: partName("shed", t.idx, -1), data: data})
	}
	c.ack(id, parts, 0, c.sinceTrigger(id), pause)
	return t.sendBarrier(ctx, id)
}

// forwardBarrier completes an aligned barrier: snapshot, then forward.
func (t *task) forwardBarrier(ctx context.Context, id uint64, alignment time.Duration) error {
	t.barrier = id
	start := t.p.clock.Now()
	parts, err := t.snapshot(id)
	if err != nil {
		return err
	}
	t.p.coord.ack(id, parts, alignment, 0, t.p.clock.Now().Sub(start))
	return t.sendBarrier(ctx, id)
}

// sendBarrier ships the records before the barrier, then the barrier itself
// on every channel downstream.
func (t *task) sendBarrier(ctx context.Context, id uint64) error {
	if err := flushBeforeBarrier(ctx, t.emit); err != nil {
		return err
	}
	return t.emit.barrier(ctx, id)
}
