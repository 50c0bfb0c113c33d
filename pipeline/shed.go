package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/streamstat/streamstat/flowcontrol"
)

// Shedder drops records at ingress, right after a source fills a batch and
// before anything downstream spends work on them: the place where shedding
// is cheapest. Package shedding provides implementations.
//
// Shed removes the records it drops from b (compacting b.Records in place;
// the arena may keep their bytes) and sets KeepP on the records it keeps to
// the keep probability its decision used, so that operators can scale what
// they count; a record kept at p = 1 may be left as it came (KeepP 0, never
// shed, weighs as 1). Its
// decisions must depend only on each record (its hash) and the state of the
// shedder, never on timing, so that a replay with the same keep
// probabilities sheds the same records. now is the pipeline's clock; p
// describes the channel behind the source, for feedback.
//
// Each source goroutine has its own Shedder, from Config.NewShedder, and
// calls it from that goroutine only. A Shedder that is also an
// encoding.BinaryMarshaler and BinaryUnmarshaler has its state (the keep
// probability in force and what decides it) saved with each checkpoint and
// restored with the source's position.
type Shedder interface {
	Shed(b *Batch, now time.Time, p Pressure)
}

// Pressure describes the credit channel behind a source when it sheds: the
// summed stats of the channels to its downstream instances. With a
// shedder the first stage always has a channel in front of it (see
// Config.NewShedder); Pressure is the zero value only for a source with
// no stage after it. Where the source runs that stage itself while
// nothing is shed (see Config.NewShedder), the records it ran count as
// sent (Records, Batches), and the time it spent running them, or
// waiting for the stage to finish what it was sent first, as
// BackPressured: time the source did not read its input because of what
// follows it.
type Pressure struct {
	// Credits, Backlog and InFlight are summed over the channels.
	Credits, Backlog, InFlight int
	// Buffers is the number of buffers the channels may hold in flight.
	Buffers int
	// BackPressured is the total time the source has waited for credit.
	BackPressured time.Duration
	// Records is the number of records sent downstream so far, in
	// Batches batches.
	Records, Batches uint64
	// AtReceiver is the number of batches the receivers hold, received
	// and not yet released: being processed.
	AtReceiver int
	// InputWait is the total time the source has waited for its input,
	// if it says (an InputWaiter); 0 otherwise.
	InputWait time.Duration
}

// InputWaiter is a Source that tells how long it has waited for input:
// blocked in Fill with nothing to read yet. A source that waits for its
// input keeps up with it, however full its batches: no record waits in
// front of it then, and dropping records cannot make it read faster. A
// shedder's controller reads it in the Pressure. InputWait is called from
// the goroutine that calls Fill, between Fills.
type InputWaiter interface {
	InputWait() time.Duration
}

// pressure returns the Pressure behind an emitter.
func pressure(e emitter) Pressure {
	var p Pressure
	var senders []*flowcontrol.Sender[*Batch]
	switch e := e.(type) {
	case *senderEmitter:
		senders = e.senders
	case *keyEmitter:
		senders = e.senders
	case *fanEmitter:
		senders = e.senders()
	}
	for _, s := range senders {
		st := s.Stats()
		p.Credits += st.Credits
		p.Backlog += st.Backlog
		p.InFlight += st.InFlight()
		p.Buffers += st.Exclusive + st.Floating
		p.BackPressured += st.BackPressured
		p.Records += st.Records
		p.Batches += st.Batches
		p.AtReceiver += st.AtReceiver
	}
	return p
}

// Compact keeps the records for which keep returns true, in order, and
// returns how many it dropped. Shedders use it.
func (b *Batch) Compact(keep func(r *Record) bool) int {
	n := 0
	for i := range b.Records {
		if keep(&b.Records[i]) {
			b.Records[n] = b.Records[i]
			n++
		}
	}
	dropped := len(b.Records) - n
	b.Records = b.Records[:n]
	return dropped
}

// shedStages returns stages with a channel in front of the first one when
// shedding is configured and the first stage would otherwise be chained to
// its source (Forward, the default): a shedder's controller measures
// capacity and queueing on that channel, and with none in view and no
// capacity configured it would never shed, leaving the source to fall
// behind its input. A fan-out's branches always start behind a channel.
// While nothing is shed, the source runs the first stage itself when it
// can (see inlineSlot), as if chained.
func shedStages(stages []Stage, cfg Config) []Stage {
	if !forcedChannel(stages, cfg) {
		return stages
	}
	s := slices.Clone(stages)
	s[0].NoChain = true
	return s
}

// forcedChannel reports whether shedStages puts a channel in front of the
// first stage.
func forcedChannel(stages []Stage, cfg Config) bool {
	if cfg.NewShedder == nil || len(stages) == 0 {
		return false
	}
	st := stages[0]
	return st.Branches == nil && st.Input == Forward && !st.NoChain
}

// inlineSlot lets a source run the operators of the instance behind the
// channel that shedStages put in front of the first stage, in its own
// goroutine, as if they were chained to it, while its shedder keeps
// everything and that instance is idle: no batch queued, none being
// processed. Records then cross no goroutine, and shedding costs nothing
// until it drops records (a channel hop costs a fast operator, top's TopK,
// about a tenth more CPU: the records are read on another core, and both
// goroutines park and wake). Once records are shed they go through the
// channel, which the controller watches.
//
// mu is held by the receiving task t except while it waits in Recv for
// its one input, the source's channel; a source that takes it and finds
// the channel empty and nothing at the receiver knows t is waiting and
// will receive nothing before the source sends again, so the source may
// run t's operators, scratch batches and emitter. Batches sent before,
// and barriers, were processed first: order is kept. Finding batches
// still there, the source waits on drained, which t signals whenever it
// goes back to Recv, and when it ends. t is nil before the receiving task
// runs and after it ends.
type inlineSlot struct {
	mu      sync.Mutex
	drained sync.Cond // L is &mu
	t       *task
	held    bool // by t (read and written by t's goroutine only)
}

// inlineStats is what a source ran inline: it counts, for the shedder's
// Pressure, as records sent and as time spent waiting for credit (the
// source did not read its input meanwhile, as when back-pressured).
type inlineStats struct {
	records, batches uint64
	time             time.Duration
	// end is when the last inline run ended, if the source has done
	// nothing since (fresh): its next Fill starts then, and task.fill
	// takes it rather than reading the clock again.
	end   time.Time
	fresh bool
}

// fillStart returns the time a Fill starts: the end of the inline run
// just before it, or the clock's reading.
func (t *task) fillStart() time.Time {
	if t.inlined.fresh {
		t.inlined.fresh = false
		return t.inlined.end
	}
	return t.p.clock.Now()
}

// inlineSlots makes the slots of the first stage's instances where
// shedStages puts a channel in front of it.
func (p *Pipeline) inlineSlots(stages []Stage) {
	if !forcedChannel(stages, p.cfg) {
		return
	}
	p.inline = make([]*inlineSlot, len(p.sources))
	for i := range p.inline {
		s := new(inlineSlot)
		s.drained.L = &s.mu
		p.inline[i] = s
	}
}

// linkInline gives task i of segment k its side of a slot: the source's,
// or the first stage's.
func (t *task) linkInline(k, i int) {
	switch {
	case t.p.inline == nil:
	case k == 0:
		t.inlineTo = t.p.inline[i]
	case t.seg.first == 0 && i < len(t.p.inline):
		t.slot = t.p.inline[i]
	}
}

// enter makes t the slot's receiving task, holding mu; leave ends that.
func (s *inlineSlot) enter(t *task) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.t, s.held = t, true
}

func (s *inlineSlot) leave() {
	if s == nil {
		return
	}
	if !s.held {
		s.mu.Lock()
	}
	s.t, s.held = nil, false
	s.mu.Unlock()
	s.drained.Broadcast()
}

// wait lets the source in while the receiving task waits in Recv; wake
// takes the slot back, after any inline run the source is in.
func (s *inlineSlot) wait() {
	if s != nil {
		s.held = false
		s.mu.Unlock()
		s.drained.Broadcast()
	}
}

func (s *inlineSlot) wake() {
	if s != nil {
		s.mu.Lock()
		s.held = true
	}
}

// inline runs the first stage's operators on b (records the shedder kept
// at p = 1, nothing held before them) in the source's goroutine, once the
// instance behind the channel has processed what it was sent (the source
// waits for that, as a chained operator would make it wait), and empties
// b. It reports whether it did; it did not if the instance is not
// running. start is the time the shedder was given (read just before it
// shed b): the clock is read once more, at the end, not at the start too,
// and the end is the start of the next Fill (fillStart): with the
// shedder's own reading, two reads a batch, one more than without a
// shedder (a read costs about 60 ns here, a batch of distinct's HLL about
// 13 µs).
// pr is the pressure the shedder was given: if it shows the instance
// idle, it still is (only this source sends to it), and the channel's
// counters are not read again.
//
// Waiting, rather than sending b on while the instance is busy, is what
// brings a job back to running chained after a spell of shedding: with
// the channel in between, a source as fast as the operator always finds
// it busy, and the two would go on taking turns across cores.
func (t *task) inline(ctx context.Context, b *Batch, start time.Time, pr Pressure) (bool, error) {
	s := t.inlineTo
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr.Backlog > 0 || pr.AtReceiver > 0 {
		for s.t != nil && !idle(t.emit) {
			s.drained.Wait()
		}
	}
	ran := false
	var err error
	if r := s.t; r != nil {
		n := b.Len()
		err = r.processInline(ctx, b)
		b.Reset()
		t.inlined.records += uint64(n)
		t.inlined.batches++
		ran = true
	}
	// Waiting, and running the operators, is time the source did not
	// read its input: back-pressure, for the controller.
	end := t.p.clock.Now()
	t.inlined.time += max(end.Sub(start), 0)
	t.inlined.end, t.inlined.fresh = end, true
	return ran, err
}

// processInline is process, run by the source: a panic is r's, named so.
func (r *task) processInline(ctx context.Context, b *Batch) (err error) {
	defer r.recoverPanic(&err)
	return r.process(ctx, b, flushFull)
}

// unshed reports whether the shedder kept r at p = 1 (KeepP 1, or 0 from
// a shedder that does not set it). Of a batch kept whole, the first
// record tells whether the batch was shed at p = 1: the p in force
// changes at most once or twice within a batch, and a batch run inline
// is counted all the same, only not in the channel's view.
func unshed(r Record) bool { return !(r.KeepP > 0 && r.KeepP < 1) }

// pressure is the Pressure behind the task's emitter, with what it ran
// inline.
func (t *task) pressure() Pressure {
	p := pressure(t.emit)
	p.Records += t.inlined.records
	p.Batches += t.inlined.batches
	p.BackPressured += t.inlined.time
	if w, ok := t.src.(InputWaiter); ok {
		p.InputWait = w.InputWait()
	}
	return p
}

// ShedHold is how long the records a shedder kept may wait at the source
// for a batch to fill.
const ShedHold = 10 * time.Millisecond

// gatherer is a source task's state for shedding: the batch the source
// fills and the shedder thins, when the oldest kept record not yet
// shipped was kept, and a timer that ships it if the source waits for
// input in Fill meanwhile. mu is held by the source task except while it
// waits in Fill, so the timer and the task never use the emitter at once.
type gatherer struct {
	buf    Batch
	since  time.Time // by the pipeline's clock; zero when nothing is held
	wall   time.Time // the same by the wall clock, for the timer
	mu     sync.Mutex
	locked bool // by the task
	// viaBuf: the last shed dropped records, so the next Fill goes into buf
	// and the kept records are copied out; otherwise a Fill goes straight
	// into an empty outgoing batch (see shedFill).
	viaBuf bool
	// lastFull: the last Fill filled what it was asked for.
	lastFull bool
	// filling: the task is in a Fill into the outgoing batch, which the
	// timer must then leave alone.
	filling bool
	view    Batch // the records of such a Fill, for the shedder
	done    bool
	timer   *time.Timer
	armed   bool  // timer was set for the Fill in progress
	err     error // of a flush by the timer
}

func (g *gatherer) start() {
	g.mu.Lock()
	g.locked = true
}

// stop ends the timer's work: after it the emitter may close. It is safe
// after a panic in Fill, when the task does not hold mu.
func (g *gatherer) stop() {
	if !g.locked {
		g.mu.Lock()
	}
	g.done, g.locked = true, false
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
}

// expire ships what is held: the source has waited ShedHold in Fill.
func (g *gatherer) expire(t *task, ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done || g.since.IsZero() || g.filling {
		return
	}
	g.since = time.Time{}
	if err := t.emit.flush(ctx, flushAll); err != nil && g.err == nil {
		g.err = err
	}
}

// fill calls the source's Fill into b without holding mu, with the timer
// armed if records are held.
func (g *gatherer) fill(t *task, ctx context.Context, b *Batch, size int) error {
	if g.armed = !g.since.IsZero(); g.armed {
		d := max(ShedHold-time.Since(g.wall), 0)
		if g.timer == nil {
			g.timer = time.AfterFunc(d, func() { g.expire(t, ctx) })
		} else {
			g.timer.Reset(d)
		}
	}
	g.locked = false
	g.mu.Unlock()
	err := t.fill(ctx, b, size) // counts the records for Metrics
	g.mu.Lock()
	g.locked = true
	if g.armed {
		// Only if set: a Stop costs 30 ns a batch, 0.2% of distinct's
		// CPU, where nothing is held at p = 1.
		g.timer.Stop()
	}
	return err
}

// shedFill fills a batch from the source, sheds it, and gathers the kept
// records into the outgoing batches: shedding makes batches smaller, not
// fewer, and an operator whose cost is per batch would otherwise slow down
// as it sheds (and so shed more). While records are being shed, a batch
// ships when full, when its oldest record has waited ShedHold (also while
// the source waits for input in Fill), before a barrier (which flushes)
// and at the end. When the shedder kept everything (p = 1), a Fill that
// did not fill the batch ships at once if the receivers are idle, as
// without a shedder, so a live stream's records wait for no batch to
// fill. It reports done at the end of the input. Gathering copies the
// kept records and their keys into the outgoing buffer, which the credits
// recycle: nothing is allocated per batch. While the shedder keeps
// everything, a Fill goes straight into the empty outgoing batch and
// nothing is copied, so that shedding costs nothing until it drops
// records; after a Fill that dropped some, the next goes into a batch of
// its own (the dropped keys' bytes would otherwise accumulate in the
// outgoing batch's arena, up to 1/p times its size).
func (t *task) shedFill(ctx context.Context, size int) (done bool, err error) {
	g := &t.gather
	if se, ok := t.emit.(*senderEmitter); ok && !g.viaBuf {
		out, err := se.out(ctx)
		if err != nil {
			return false, err
		}
		if out.Len() == 0 || g.lastFull && out.Len() < size {
			return t.shedFillDirect(ctx, out, size)
		}
	}
	in := &g.buf
	in.Reset()
	ferr := g.fill(t, ctx, in, size)
	if g.err != nil {
		return false, g.err
	}
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		return false, fmt.Errorf("pipeline: source %d: %w", t.idx, ferr)
	}
	offered := in.Len()
	now := t.p.clock.Now()
	t.shed.Shed(in, now, t.pressure())
	g.viaBuf, g.lastFull = in.Len() < offered, offered >= size
	_, keyed := t.emit.(*keyEmitter)
	for i := 0; i < in.Len(); {
		out, err := t.emit.out(ctx)
		if err != nil {
			return false, err
		}
		// A by-key emitter hands out a scratch batch that it deals into
		// batches per receiver at every flush; the oldest record it holds
		// is then older than the scratch.
		if g.since.IsZero() || out.Len() == 0 && !keyed {
			g.since, g.wall = now, time.Now()
		}
		for ; i < in.Len() && out.Len() < size; i++ {
			out.AddRecord(in, i)
		}
		if out.Len() >= size {
			if err := t.emit.flush(ctx, flushFull); err != nil {
				return false, err
			}
		}
	}
	if ferr != nil { // io.EOF
		return true, t.emit.flush(ctx, flushFinal)
	}
	// Kept at p = 1, records that did not fill the batch ship at once if
	// the receivers are idle, as without a shedder; under shedding they
	// wait to fill it, so that the channel shows the controller full
	// batches and the operator's capacity in them.
	caughtUp := offered < size && in.Len() > 0 && !(in.Records[0].KeepP < 1 && in.Records[0].KeepP > 0) && idle(t.emit)
	if !g.since.IsZero() && (caughtUp || now.Sub(g.since) >= ShedHold) {
		g.since = time.Time{}
		return false, t.emit.flush(ctx, flushAll)
	}
	return false, nil
}

// shedFillDirect is shedFill with the Fill straight into out, the
// outgoing batch of a sender emitter, and the shedder thinning the new
// records in place. If out holds records already (the Fill before this
// one filled its batch, so the source is reading fast), the Fill asks for
// just enough to fill out, and the timer does not ship out meanwhile: a
// source that stalls right after a full Fill holds them until it returns.
func (t *task) shedFillDirect(ctx context.Context, out *Batch, size int) (done bool, err error) {
	g := &t.gather
	start := out.Len()
	if start == 0 {
		g.since = time.Time{} // nothing is held
	}
	g.filling = true
	ferr := g.fill(t, ctx, out, size-start)
	g.filling = false
	if g.err != nil {
		return false, g.err
	}
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		return false, fmt.Errorf("pipeline: source %d: %w", t.idx, ferr)
	}
	offered := out.Len() - start
	g.lastFull = offered >= size-start
	now, pr := t.p.clock.Now(), t.pressure()
	v := &g.view
	v.Records, v.arena = out.Records[start:], out.arena
	t.shed.Shed(v, now, pr)
	kept := v.Len()
	out.Records = out.Records[:start+kept]
	v.Records, v.arena = nil, nil
	g.viaBuf = kept < offered
	if start == 0 && kept > 0 && kept == offered && unshed(out.Records[0]) {
		// Nothing shed, nothing held: run the first stage here, as if
		// chained, if it is idle.
		ok, err := t.inline(ctx, out, now, pr)
		if err != nil {
			return false, err
		}
		if ok {
			return ferr != nil, t.finalFlush(ctx, ferr)
		}
	}
	if ferr != nil { // io.EOF
		return true, t.emit.flush(ctx, flushFinal)
	}
	if out.Len() >= size {
		g.since = time.Time{}
		return false, t.emit.flush(ctx, flushFull)
	}
	if kept > 0 && g.since.IsZero() {
		g.since, g.wall = now, time.Now()
	}
	// As in shedFill: kept at p = 1, a Fill that did not fill the batch
	// ships at once if the receivers are idle.
	caughtUp := !g.lastFull && kept > 0 && !(out.Records[start].KeepP < 1 && out.Records[start].KeepP > 0) && idle(t.emit)
	if !g.since.IsZero() && (caughtUp || now.Sub(g.since) >= ShedHold) {
		g.since = time.Time{}
		return false, t.emit.flush(ctx, flushAll)
	}
	return false, nil
}

// finalFlush ends the output at the end of the input (ferr io.EOF).
func (t *task) finalFlush(ctx context.Context, ferr error) error {
	if ferr == nil {
		return nil
	}
	return t.emit.flush(ctx, flushFinal)
}

// idle reports whether the receivers behind an emitter have nothing to do:
// no batch queued or being processed. A batch shipped then costs them
// nothing they would not spend idling, and its records wait no longer.
func idle(e emitter) bool {
	var senders []*flowcontrol.Sender[*Batch]
	switch e := e.(type) {
	case *senderEmitter:
		senders = e.senders
	case *keyEmitter:
		senders = e.senders
	case *fanEmitter:
		senders = e.senders()
	}
	for _, s := range senders {
		if st := s.Stats(); st.Backlog > 0 || st.AtReceiver > 0 {
			return false
		}
	}
	return true
}
