package pipeline

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// Stateful is an operator whose state a checkpoint saves and recovery
// restores. UnmarshalBinary on a fresh instance, made by the stage's New,
// must restore the state MarshalBinary wrote, so that the instance goes on
// exactly as the original would have. The sketch operators implement it.
type Stateful interface {
	Operator
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// CheckpointConfig turns on checkpoints (asynchronous barrier snapshotting,
// Carbone et al., "Lightweight Asynchronous Snapshots for Distributed
// Dataflows", 2015, as in Apache Flink).
//
// A checkpoint n starts when the coordinator asks every source to inject
// barrier n (and wakes those waiting for input, WakeableSource): between
// two Fills, a source records its position (SeekableSource) or its state
// (StatefulSource), snapshots
// the operators chained to it and sends the barrier, in-band, on every
// channel to the next stage. An instance with several inputs taken in
// arrival order (round-robin input, or Config.Unordered) aligns them
// (exactly-once): an input that delivered barrier n is held back until all
// have (still read, its batches set aside to be processed after the
// snapshot: an input that stopped being read would stop its sender, which
// may be what delivers the barriers awaited, through a by-key instance
// waiting for its turn); then the instance snapshots its operators,
// forwards the barrier and processes the batches set aside.
// An instance that takes several inputs in strict turn (by-key input, the
// default) never holds one back, which would give the others extra turns:
// it snapshots when the first barrier reaches it, forwards it, and logs
// with the checkpoint the batches its other inputs deliver before their
// barriers, with the turn; recovery takes them first, each in its input's
// turn. With AtLeastOnce the inputs are not held nor logged, and the
// snapshot is taken at the last barrier, so records after a barrier may
// enter it and be counted again after recovery. A snapshot is
// MarshalBinary's copy of the state, written to the Store by a background
// goroutine; the checkpoint completes when every part is written and the
// manifest published. One checkpoint is in progress at a time, and none is
// taken once a source has finished. With checkpoints, New refuses an
// operator that is neither Stateful nor declared stateless (Stateless).
//
// Result equality: checkpoints leave every operator's state as it would be
// without them, byte for byte, wherever the package's determinism holds
// (see the package documentation: records reach order-sensitive operators
// through chained forward and by-key exchanges), and a recovered run ends
// in the same bytes as a run that never failed. Where inputs are taken in
// arrival order the interleaving, with or without checkpoints, depends on
// timing, which only order-insensitive state (HLL, Bloom, plain CountMin)
// does not feel; an unaligned checkpoint (AlignmentTimeout) keeps
// exactly-once but not the interleaving.
//
// Each checkpoint records the graph that took it: Restore refuses a
// checkpoint of another graph (ErrTopologyMismatch, naming the first
// difference), except that a stage taking records round-robin (with the
// forward stages chained to it) whose operators are Mergeable may change
// its parallelism: the saved states are merged into instance 0, so the
// merged answer is unchanged. So may the number of sources, if they are
// RescalableSources: their saved states are dealt anew among the sources
// (RedealSources), and the stages forward from them rescale as after a
// round-robin input. By-key state would need key groups, which streamstat
// does not keep. A checkpoint written before topologies were
// recorded restores only into a pipeline that has exactly its parts.
//
// Checkpoints outlive the run: a finished job's checkpoints stay in the
// Store (the last one taken before its sources finished), and a pipeline
// that restores from that Store goes on from the newest of them, as after
// a failure: its operators start from that state and its sources from
// their positions then. Over the same input it ends as the finished job
// did; over new input it would count the old state with it. To start a
// job over, clear the store first (checkpoint.DirStore.Clear).
type CheckpointConfig struct {
	// Store receives the checkpoints.
	Store checkpoint.Store
	// Interval between checkpoints; 0 means only on demand (Checkpoint).
	Interval time.Duration
	// AtLeastOnce skips the holding of aligned inputs.
	AtLeastOnce bool
	// AlignmentTimeout, if positive, bounds how long an instance that
	// aligns holds inputs back (one taking inputs in turn never does):
	// then it snapshots at once, forwards the barrier and
	// releases the held inputs, and the batches its late inputs deliver
	// before their barriers are stored with the checkpoint (an unaligned
	// checkpoint, as in Flink), to be processed again first on recovery.
	// Exactly-once still holds; the interleaving after recovery may differ.
	// An instance also goes unaligned, whatever AlignmentTimeout, when
	// the batches its held inputs delivered reach 64 per input.
	AlignmentTimeout time.Duration
	// OnComplete, if set, is called after each checkpoint completes or
	// fails, from the background writer; a panic in it is recovered into
	// CheckpointStats.LastError, wrapping ErrPanic.
	OnComplete func(m checkpoint.Manifest, err error)
	// Ready, if set, is asked before each checkpoint starts (at the
	// Interval or by Checkpoint); while it returns false none starts, and
	// Checkpoint returns an error wrapping ErrCheckpointBusy. It must be
	// quick and safe for concurrent use. pipeline/job uses it to take no
	// checkpoint of a resumed job before it has checked that its input is
	// the one the restored checkpoint was taken of.
	Ready func() bool
}

// CheckpointStats counts checkpoints. The zero value means none yet.
type CheckpointStats struct {
	// Completed and Failed count checkpoints published and checkpoints
	// that failed (a part or the manifest could not be written);
	// Abandoned those the run ended under.
	Completed, Failed, Abandoned uint64
	InProgress                   bool
	// LastID, LastDuration and LastSize describe the last completed
	// checkpoint: trigger to publication, and bytes written.
	LastID       uint64
	LastDuration time.Duration
	LastSize     int64
	// LastAlignment is the longest an instance held inputs back for the
	// last completed checkpoint; LastStartDelay the longest a source took
	// to inject its barrier after the trigger; LastPause the longest an
	// instance stopped processing to copy its state (MarshalBinary), the
	// only part of a checkpoint on the data path.
	LastAlignment, LastStartDelay, LastPause time.Duration
	// Unaligned counts the instances that gave up aligning after
	// AlignmentTimeout and went unaligned.
	Unaligned uint64
	// LastError is the error of the last failed checkpoint (or of the
	// last OnComplete call that panicked).
	LastError error
}

// ErrCheckpointBusy: a checkpoint was requested while one is in progress,
// after a source finished, or while CheckpointConfig.Ready is false.
var ErrCheckpointBusy = errors.New("pipeline: checkpoint in progress or sources finished")

// errNotReady is a checkpoint held back by CheckpointConfig.Ready.
var errNotReady = fmt.Errorf("pipeline: checkpoint held back (CheckpointConfig.Ready): %w", ErrCheckpointBusy)

// coordinator runs the checkpoints of one Run.
type coordinator struct {
	p     *Pipeline
	cfg   *CheckpointConfig
	tasks int // acknowledgements a checkpoint needs

	mu       sync.Mutex
	next     uint64 // id of the next checkpoint
	cur      *inflight
	finished bool // a task finished: no more checkpoints
	stats    CheckpointStats
	writes   chan write
}

type inflight struct {
	id        uint64
	trigger   time.Time
	acks      int
	written   int
	parts     []checkpoint.Part
	err       error
	alignment time.Duration
	delay     time.Duration
	pause     time.Duration
}

type write struct {
	id   uint64
	name string
	data []byte
}

func partName(kind string, a, b int) string {
	if b < 0 {
		return fmt.Sprintf("%s-%d", kind, a)
	}
	return fmt.Sprintf("%s-%d-%d", kind, a, b)
}

// startCoordinator starts the background writer and, with an Interval, the
// trigger; the returned func stops them once the tasks are done.
func (p *Pipeline) startCoordinator(ctx context.Context) (stop func()) {
	c := p.coord
	if c == nil {
		return func() {}
	}
	// Room for every part and acknowledgement of one checkpoint, so that a
	// task handing over its snapshot never waits for the disk.
	maxOps := 0
	for _, insts := range p.ops {
		maxOps += len(insts)
	}
	c.writes = make(chan write, 2*(p.ntasks+len(p.sources)+maxOps)+1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writer()
	}()
	if iv := c.cfg.Interval; iv > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(iv)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					_, _ = c.trigger()
				case <-done:
					return
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return func() {
		close(done)
		close(c.writes)
		wg.Wait()
	}
}

// trigger starts checkpoint n, unless one is in progress.
func (c *coordinator) trigger() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil || c.finished {
		return 0, ErrCheckpointBusy
	}
	if c.cfg.Ready != nil && !c.cfg.Ready() {
		return 0, errNotReady
	}
	c.next++
	c.cur = &inflight{id: c.next, trigger: c.p.clock.Now()}
	c.stats.InProgress = true
	c.p.barrier.Store(c.next)
	c.p.wakeSources()
	return c.next, nil
}

// ack records a task's snapshot parts for checkpoint id and queues them for
// the writer. Called by the task that took the snapshot.
func (c *coordinator) ack(id uint64, parts []write, align, delay, pause time.Duration) {
	c.mu.Lock()
	cur := c.cur
	if cur == nil || cur.id != id {
		c.mu.Unlock()
		return
	}
	cur.acks++
	cur.alignment = max(cur.alignment, align)
	cur.delay = max(cur.delay, delay)
	cur.pause = max(cur.pause, pause)
	c.mu.Unlock()
	for _, w := range parts {
		c.writes <- w
	}
	c.writes <- write{id: id} // this task's acknowledgement
}

// wentUnaligned counts an instance that went unaligned.
func (c *coordinator) wentUnaligned() {
	c.mu.Lock()
	c.stats.Unaligned++
	c.mu.Unlock()
}

// sinceTrigger is the time since checkpoint id was triggered.
func (c *coordinator) sinceTrigger(id uint64) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.cur.id != id {
		return 0
	}
	return c.p.clock.Now().Sub(c.cur.trigger)
}

// finish marks a task finished; the checkpoint in progress, which can no
// longer complete, fails.
func (c *coordinator) finish() {
	c.mu.Lock()
	c.finished = true
	c.mu.Unlock()
}

// writer writes parts in the background and publishes complete
// checkpoints, until writes is closed.
func (c *coordinator) writer() {
	for w := range c.writes {
		c.mu.Lock()
		cur := c.cur
		c.mu.Unlock()
		if cur == nil || cur.id != w.id {
			continue
		}
		if w.name == "" {
			cur.written++
			if cur.written == c.tasks {
				c.complete(cur)
			}
			continue
		}
		if cur.err != nil {
			continue
		}
		p, err := c.store().WritePart(w.id, w.name, w.data)
		if err != nil {
			cur.err = err
			continue
		}
		cur.parts = append(cur.parts, p)
	}
	// A checkpoint still in progress when the run ends (a bounded input
	// ran out under it, or the run failed) can never complete.
	c.mu.Lock()
	cur := c.cur
	c.cur = nil
	if cur != nil {
		c.stats.Abandoned++
		c.stats.InProgress = false
	}
	c.mu.Unlock()
	if cur != nil {
		_ = c.store().Abort(cur.id)
	}
}

func (c *coordinator) complete(cur *inflight) {
	err := cur.err
	if err == nil {
		// The graph that took the checkpoint, for Restore to check.
		var part checkpoint.Part
		part, err = c.store().WritePart(cur.id, topologyPart, []byte(strings.Join(c.p.topology(), "\n")))
		cur.parts = append(cur.parts, part)
	}
	m := checkpoint.Manifest{ID: cur.id, Time: cur.trigger.UTC(), Parts: cur.parts}
	if err == nil {
		err = c.store().Publish(m)
	}
	if err != nil {
		c.fail(cur, err)
		return
	}
	c.mu.Lock()
	c.cur = nil
	c.stats.InProgress = false
	c.stats.Completed++
	c.stats.LastID = cur.id
	c.stats.LastDuration = c.p.clock.Now().Sub(cur.trigger)
	c.stats.LastSize = m.Size()
	c.stats.LastAlignment, c.stats.LastStartDelay, c.stats.LastPause = cur.alignment, cur.delay, cur.pause
	c.mu.Unlock()
	c.notify(m, nil)
}

// fail drops checkpoint cur: the job goes on, earlier checkpoints stay.
func (c *coordinator) fail(cur *inflight, err error) {
	_ = c.store().Abort(cur.id)
	c.mu.Lock()
	if c.cur == cur {
		c.cur = nil
	}
	c.stats.InProgress = false
	c.stats.Failed++
	c.stats.LastError = err
	c.mu.Unlock()
	c.notify(checkpoint.Manifest{ID: cur.id}, err)
}

// Checkpoint triggers a checkpoint now and returns its id; it completes
// later (see CheckpointConfig.OnComplete). It returns ErrCheckpointBusy if
// one is in progress, a source has finished, or CheckpointConfig.Ready
// holds checkpoints back.
func (p *Pipeline) Checkpoint() (uint64, error) {
	c := p.coord
	if c == nil {
		return 0, fmt.Errorf("pipeline: checkpoints are not configured: %w", ErrInvalidGraph)
	}
	return c.trigger()
}

// CheckpointStats returns the checkpoint counters.
func (p *Pipeline) CheckpointStats() CheckpointStats {
	if p.coord == nil {
		return CheckpointStats{}
	}
	p.coord.mu.Lock()
	defer p.coord.mu.Unlock()
	return p.coord.stats
}

// snapshot marshals the chained operators of a task.
func (t *task) snapshot(id uint64) ([]write, error) {
	var parts []write
	for j, inst := range t.chain {
		st, ok := inst.op.(Stateful)
		if !ok {
			continue
		}
		// The copy (writing happens elsewhere), under the instance's lock
		// like Process, so that a Query never runs in the middle of it.
		inst.mu.Lock()
		t.cur = j
		data, err := st.MarshalBinary()
		t.cur = -1
		inst.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("pipeline: snapshot of %s[%d]: %w", t.names[j], t.idx, err)
		}
		parts = append(parts, write{id: id, name: partName("op", t.stages[j], t.idx), data: data})
	}
	return parts, nil
}

// Restore loads the newest complete checkpoint in store into a pipeline
// that has not run: every Stateful operator instance gets its state back and
// every source its state or position. It returns the manifest it restored, or
// checkpoint.ErrNoCheckpoint if there is none (the pipeline is unchanged).
// A checkpoint taken by another graph is refused with an error wrapping
// ErrTopologyMismatch, before anything changes, unless it rescales exactly
// (see CheckpointConfig). During or after Run it returns ErrAlreadyRun and
// changes nothing: state restored under running operators would be
// corrupt. It must not be called from two goroutines at once.
func (p *Pipeline) Restore(store checkpoint.Store) (checkpoint.Manifest, error) {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.ran.Load() {
		return checkpoint.Manifest{}, fmt.Errorf("pipeline: restore: %w", ErrAlreadyRun)
	}
	m, err := store.Latest()
	if err != nil {
		return m, err
	}
	rescale, srcRescale, drop, err := p.checkTopology(store, m)
	if err != nil {
		return m, err
	}
	if err := p.restoreSources(store, m, srcRescale); err != nil {
		return m, err
	}
	if p.coord != nil {
		// Go on numbering after the restored checkpoint: the store's
		// newest is the one to recover from after another failure, and
		// an older number would overwrite the parts of a published
		// checkpoint.
		p.coord.next = max(p.coord.next, m.ID)
	}
	if err := p.restoreOrder(store, m, drop); err != nil {
		return m, err
	}
	p.replay = map[string][]*Batch{}
	for _, part := range m.Parts {
		if !isInflight(part.Name) {
			continue
		}
		data, err := store.ReadPart(m, part.Name)
		if err != nil {
			return m, err
		}
		if p.replay[part.Name], err = decodeBatches(data, p.cfg.BatchSize); err != nil {
			return m, err
		}
	}
	for s, insts := range p.ops {
		if n, ok := rescale[s]; ok {
			if err := p.restoreMerged(store, m, s, n); err != nil {
				return m, err
			}
			continue
		}
		for i, inst := range insts {
			st, ok := inst.op.(Stateful)
			if !ok {
				continue
			}
			data, err := store.ReadPart(m, partName("op", s, i))
			if err != nil {
				return m, err
			}
			if err := st.UnmarshalBinary(data); err != nil {
				return m, fmt.Errorf("pipeline: restore %s[%d]: %w", p.stages[s].Name, i, err)
			}
		}
	}
	return m, nil
}
