package kafka

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline"
)

// Worker is one member of a consumer group: it keeps one operator per
// input partition it owns, feeds it that partition's records, and commits
// snapshots and offsets together in one transaction per checkpoint
// interval. Make one with NewWorker; the zero value is not usable. Run is
// called once; Stats and Query are safe to call from any goroutine while
// it runs.
type Worker struct {
	cfg    Config
	topics topics
	ran    atomic.Bool

	// mu guards parts: the run loop holds it while it processes a poll or
	// checkpoints, Query while it reads.
	mu    sync.Mutex
	parts map[int32]*partState

	// evMu guards events and fatal, written by franz-go's group callbacks
	// and read by the run loop.
	evMu   sync.Mutex
	events []event
	fatal  error
	cancel context.CancelCauseFunc

	stats stats
	hooks *hooks // tests and benchmarks only

	// load is the poll loop's account of its time (the shedders' load
	// signal), parts' the partitions' counters: see metrics.go.
	load  loadClock
	pmets atomic.Pointer[[]partMetrics]
}

// hooks let tests and benchmarks see events as they happen.
type hooks struct {
	take    func(p int32, n int, at time.Time)
	revoked func(ps []int32, at time.Time)
}

// event is a change of ownership, in the order the group made it: a
// revoke (or loss) drops partitions, an assignment brings restored ones.
type event struct {
	revoked  []int32
	assigned []*partState
}

// partState is the state of one owned partition.
type partState struct {
	p    int32
	op   pipeline.Mergeable
	shed pipeline.Shedder
	// next is the offset the next record must have; -1 when the group
	// had no commit and the first record sets it.
	next int64
	// start is the offset of the first record taken without a commit
	// (-1 otherwise): where an abort rewinds the partition to.
	start                   int64
	records, shedN, skipped uint64
	dirty                   bool
	// committed is the snapshot of the last committed transaction (or
	// the one restored), nil when the partition has none: what an
	// aborted transaction rolls back to.
	committed *Snapshot
	in, out   pipeline.Batch
	scratch   pipeline.Scratch
	// sent and batches count the records (and non-empty batches) this
	// state's operator took: the Pressure's Records and Batches.
	sent, batches uint64
}

// PartitionState is what Query shows of one owned partition. Op is the
// live operator: read it only inside the Query callback, and do not
// change it.
type PartitionState struct {
	Partition int32
	Op        pipeline.Mergeable
	// Shedder is the partition's shedder (nil without
	// Config.NewShedder), under the same rule as Op.
	Shedder pipeline.Shedder
	// Next is the offset of the next record to take (-1: none taken yet
	// and no commit).
	Next int64
	// Records, Shed and Skipped count as Snapshot's do, including the
	// records since the last commit.
	Records, Shed, Skipped uint64
}

// Stats counts what a Worker did since Run started. It is a plain value.
type Stats struct {
	// Records, Shed and Skipped count records taken by this worker (those
	// of aborted transactions included, and counted again when taken
	// again).
	Records, Shed, Skipped uint64
	// Owned lists the partitions owned now, restored and running.
	Owned []int32
	// Committed, Aborted and Failed count transactions: committed,
	// aborted cleanly (a rebalance or a failed write; every partition
	// rolled back to its last commit), and ended in an unknown state (the
	// session was recreated and every partition restored from Kafka).
	Committed, Aborted, Failed uint64
	// Restores counts partitions restored on assignment; Rollbacks
	// partitions rolled back after an abort.
	Restores, Rollbacks uint64
	// LastCheckpoint is how long the last committed transaction took,
	// from Begin to the end of End; LastCheckpointBytes the snapshot
	// bytes it wrote.
	LastCheckpoint      time.Duration
	LastCheckpointBytes int64
	// LastError is the error of the last transaction that failed.
	LastError error
}

type stats struct {
	records, shed, skipped     atomic.Uint64
	committed, aborted, failed atomic.Uint64
	restores, rollbacks        atomic.Uint64
	lastCkpt, lastBytes        atomic.Int64
	lastErr                    atomic.Pointer[error]
	inCkpt                     atomic.Bool
}

// NewWorker checks cfg and returns a worker; it does no I/O.
func NewWorker(cfg Config) (*Worker, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg, parts: make(map[int32]*partState)}, nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() Stats {
	s := Stats{
		Records: w.stats.records.Load(), Shed: w.stats.shed.Load(), Skipped: w.stats.skipped.Load(),
		Committed: w.stats.committed.Load(), Aborted: w.stats.aborted.Load(), Failed: w.stats.failed.Load(),
		Restores: w.stats.restores.Load(), Rollbacks: w.stats.rollbacks.Load(),
		LastCheckpoint:      time.Duration(w.stats.lastCkpt.Load()),
		LastCheckpointBytes: w.stats.lastBytes.Load(),
	}
	if e := w.stats.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	w.mu.Lock()
	s.Owned = slices.Sorted(maps.Keys(w.parts))
	w.mu.Unlock()
	return s
}

// Query calls fn with the owned partitions, sorted, between two polls (or
// after Run returned): the operators do not change while fn runs, and fn
// must not keep them.
func (w *Worker) Query(fn func(parts []PartitionState) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := make([]PartitionState, 0, len(w.parts))
	for _, p := range slices.Sorted(maps.Keys(w.parts)) {
		st := w.parts[p]
		ps = append(ps, PartitionState{Partition: p, Op: st.op, Shedder: st.shed, Next: st.next, Records: st.records, Shed: st.shedN, Skipped: st.skipped})
	}
	return fn(ps)
}

// errUnknown marks a transaction whose outcome is unknown: the session is
// recreated and every partition restored from Kafka.
type errUnknown struct{ err error }

func (e errUnknown) Error() string { return "kafka: transaction outcome unknown: " + e.err.Error() }
func (e errUnknown) Unwrap() error { return e.err }

// Run joins the group and processes records until ctx is done; then it
// commits a last checkpoint and leaves the group. It returns nil when ctx
// ends it, and an error when setup fails (ErrNoTopic, ErrUnreachable,
// ErrPartitionMismatch, ...) or a partition cannot be restored
// (ErrNoSnapshot, ErrBadSnapshot, ErrOffsetGap), or an operator panics
// (pipeline.ErrPanic). A transaction whose end fails is not an error of
// Run: the session is recreated and the owned partitions restored from
// Kafka (Stats.Failed counts it). After Run returns, Query shows the
// partitions owned at the end, as of the last commit (none if the last
// transaction's outcome is unknown).
func (w *Worker) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	cl, err := adminClient(w.cfg.Brokers, w.cfg.Opts)
	if err != nil {
		return err
	}
	w.topics, err = setupTopics(ctx, cl, &w.cfg)
	cl.Close()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	pm := make([]partMetrics, w.topics.partitions)
	w.pmets.Store(&pm)
	w.load.begin(time.Now())
	defer func() { w.load.end(time.Now()) }()
	for {
		err := w.runSession(ctx)
		var unknown errUnknown
		if !errors.As(err, &unknown) {
			return err
		}
		w.stats.failed.Add(1)
		w.stats.lastErr.Store(&err)
		w.cfg.logf("kafka: %v; recreating the session, restoring every partition from Kafka", err)
		w.mu.Lock()
		clear(w.parts)
		w.mu.Unlock()
		w.evMu.Lock()
		w.events = nil
		w.evMu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// sessionOpts are the options of the worker's transactional session.
func (w *Worker) sessionOpts() []kgo.Opt {
	ckpt, maxBytes := w.cfg.CheckpointTopic, w.topics.maxMessageBytes
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.cfg.Brokers...),
		kgo.ConsumerGroup(w.cfg.Group),
		kgo.ConsumeTopics(w.cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.TransactionalID(w.cfg.TransactionalID),
		kgo.TransactionTimeout(w.cfg.txnTimeout()),
		kgo.SessionTimeout(w.cfg.SessionTimeout),
		kgo.HeartbeatInterval(max(w.cfg.SessionTimeout/10, 100*time.Millisecond)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A partition newly assigned joins the next fetch to its broker,
		// after the one in flight, which waits up to FetchMaxWait for
		// data: 5 s by default, which would bound a handover.
		kgo.FetchMaxWait(min(w.cfg.Interval, 500*time.Millisecond)),
		kgo.RequireStableFetchOffsets(),
		kgo.BlockRebalanceOnPoll(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
			if topic == ckpt {
				return maxBytes
			}
			return defaultMaxMessageBytes
		}),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.AdjustFetchOffsetsFn(w.onAssigned),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onRevoked),
	}
	if w.cfg.KIP848 {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return append(opts, w.cfg.Opts...)
}

// runSession runs one transactional session until ctx ends (nil), a fatal
// error, or a transaction of unknown outcome (errUnknown).
func (w *Worker) runSession(ctx context.Context) error {
	sess, err := kgo.NewGroupTransactSession(w.sessionOpts()...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w.evMu.Lock()
	w.cancel, w.fatal = cancel, nil
	w.evMu.Unlock()
	defer sess.CloseAllowingRebalance()

	next := time.Now().Add(w.cfg.Interval)
	for {
		pollCtx, pollCancel := context.WithDeadline(runCtx, next)
		t0 := time.Now()
		fs := sess.PollRecords(pollCtx, w.cfg.MaxPollRecords)
		w.load.wait(time.Since(t0))
		pollCancel()
		if fs.IsClientClosed() {
			return fmt.Errorf("kafka: client closed")
		}
		if err := w.takeEvents(); err != nil {
			return err
		}
		if err := w.pollErr(fs); err != nil {
			return err
		}
		if err := w.process(fs); err != nil {
			return err
		}
		sess.AllowRebalance()
		done := ctx.Err() != nil
		if done || !time.Now().Before(next) {
			if err := w.checkpoint(sess); err != nil {
				return err
			}
			next = time.Now().Add(w.cfg.Interval)
		}
		if done {
			return nil
		}
	}
}

// pollErr returns the first fetch error that is not the end of a poll nor
// a group error franz-go retries by rejoining (its partitions were lost,
// and the revoke event drops them): a group error Kafka calls not
// retriable (an invalid session timeout, no authorization) is returned.
func (w *Worker) pollErr(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(t string, p int32, err error) {
		if first != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		var ge *kgo.ErrGroupSession
		if errors.As(err, &ge) {
			var ke *kerr.Error
			if !errors.As(ge.Err, &ke) || ke.Retriable {
				w.cfg.logf("kafka: group %s: %v; rejoining", w.cfg.Group, err)
				return
			}
			first = fmt.Errorf("kafka: group %s: %w", w.cfg.Group, err)
			return
		}
		first = fmt.Errorf("kafka: fetching %s partition %d: %w", t, p, err)
	})
	return first
}

// setFatal records a fatal error from a callback and stops the poll.
func (w *Worker) setFatal(err error) {
	w.evMu.Lock()
	defer w.evMu.Unlock()
	if w.fatal == nil {
		w.fatal = err
	}
	if w.cancel != nil {
		w.cancel(err)
	}
}

// takeEvents applies the ownership changes in order, or returns the fatal
// error a callback recorded.
func (w *Worker) takeEvents() error {
	w.evMu.Lock()
	evs, fatal := w.events, w.fatal
	w.events = nil
	w.evMu.Unlock()
	if fatal != nil {
		return fatal
	}
	if len(evs) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range evs {
		for _, p := range ev.revoked {
			delete(w.parts, p)
		}
		for _, st := range ev.assigned {
			w.parts[st.p] = st
		}
	}
	return nil
}

// onRevoked records revoked or lost partitions for the run loop.
func (w *Worker) onRevoked(_ context.Context, _ *kgo.Client, rev map[string][]int32) {
	if ps := rev[w.cfg.Topic]; len(ps) > 0 {
		if w.hooks != nil && w.hooks.revoked != nil {
			w.hooks.revoked(ps, time.Now())
		}
		w.evMu.Lock()
		w.events = append(w.events, event{revoked: slices.Clone(ps)})
		w.evMu.Unlock()
	}
}

// onAssigned runs after the group fetched the committed offsets of newly
// assigned partitions and before consuming them starts: it restores each
// partition's snapshot at its committed offset.
func (w *Worker) onAssigned(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	po := offs[w.cfg.Topic]
	if len(po) == 0 {
		return offs, nil
	}
	parts := slices.Sorted(maps.Keys(po))
	rctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	snaps, err := w.readCommitted(rctx, po, parts)
	if err != nil {
		if ctx.Err() == nil { // not a revoke cutting the restore short
			w.setFatal(fmt.Errorf("kafka: restoring partitions %v: %w", parts, err))
		}
		return offs, err
	}
	var sts []*partState
	for _, p := range parts {
		committed := po[p].EpochOffset().Offset
		snap, has := snaps[p]
		switch {
		case committed >= 0 && !has:
			err = fmt.Errorf("%w: group %s has committed offset %d for %s partition %d, but %s holds no snapshot of it; the offsets were moved by something else than a streamstat worker: reset them, or delete the group and the checkpoint topic to start over", ErrNoSnapshot, w.cfg.Group, committed, w.cfg.Topic, p, w.cfg.CheckpointTopic)
		case committed >= 0 && snap.Offset != committed:
			err = fmt.Errorf("%w: group %s has committed offset %d for %s partition %d, but the latest snapshot in %s is at offset %d", ErrNoSnapshot, w.cfg.Group, committed, w.cfg.Topic, p, w.cfg.CheckpointTopic, snap.Offset)
		case committed < 0 && has:
			err = fmt.Errorf("%w: %s holds a snapshot of %s partition %d at offset %d, but group %s has no committed offset for it (were the group's offsets deleted?)", ErrNoSnapshot, w.cfg.CheckpointTopic, w.cfg.Topic, p, snap.Offset, w.cfg.Group)
		}
		var st *partState
		if err == nil {
			var sp *Snapshot
			if has {
				sp = &snap
			}
			st, err = w.newPart(p, sp)
		}
		if err != nil {
			w.setFatal(err)
			return offs, err
		}
		sts = append(sts, st)
		w.stats.restores.Add(1)
	}
	w.cfg.logf("kafka: restored partitions %v of %s", parts, w.cfg.Topic)
	w.evMu.Lock()
	w.events = append(w.events, event{assigned: sts})
	w.evMu.Unlock()
	return offs, nil
}

// readCommitted reads the latest snapshots of parts, reading again those
// older than the committed offset until they catch up or ctx ends: the
// transaction markers of the checkpoint topic may land after those of the
// group's offsets, which is all a stable offset fetch waits for.
func (w *Worker) readCommitted(ctx context.Context, po map[int32]kgo.Offset, parts []int32) (map[int32]Snapshot, error) {
	snaps := make(map[int32]Snapshot, len(parts))
	for read := false; ; read = true {
		got, err := readLatest(ctx, w.cfg.Brokers, w.cfg.Opts, w.cfg.CheckpointTopic, parts)
		if err != nil {
			if read && ctx.Err() != nil {
				return snaps, nil // out of time re-reading: report what was found
			}
			return nil, err
		}
		var behind []int32
		for _, p := range parts {
			s, has := got[p]
			if committed := po[p].EpochOffset().Offset; committed >= 0 && (!has || s.Offset < committed) {
				behind = append(behind, p)
			}
			if has {
				snaps[p] = s
			}
		}
		if len(behind) == 0 {
			return snaps, nil
		}
		select {
		case <-ctx.Done():
			// Report what was found: the caller names the mismatch.
			return snaps, nil
		case <-time.After(50 * time.Millisecond):
		}
		parts = behind
	}
}

// newPart makes the state of partition p from snap (nil: empty, no
// commit).
func (w *Worker) newPart(p int32, snap *Snapshot) (*partState, error) {
	op, err := w.cfg.New(p)
	if err != nil {
		return nil, fmt.Errorf("kafka: making the operator of partition %d: %w", p, err)
	}
	st := &partState{p: p, op: op, next: -1, start: -1, committed: snap}
	if w.cfg.NewShedder != nil {
		if st.shed, err = w.cfg.NewShedder(p); err != nil {
			return nil, fmt.Errorf("kafka: making the shedder of partition %d: %w", p, err)
		}
	}
	if snap == nil {
		return st, nil
	}
	if err := op.UnmarshalBinary(snap.State); err != nil {
		return nil, fmt.Errorf("kafka: restoring partition %d at offset %d: %w", p, snap.Offset, err)
	}
	if len(snap.ShedState) > 0 {
		u, ok := st.shed.(encoding.BinaryUnmarshaler)
		if !ok {
			return nil, fmt.Errorf("%w: partition %d's snapshot holds shedder state, but this worker's shedder cannot restore it (configure the same NewShedder as the workers that wrote it)", ErrConfig, p)
		}
		if err := u.UnmarshalBinary(snap.ShedState); err != nil {
			return nil, fmt.Errorf("kafka: restoring partition %d's shedder at offset %d: %w", p, snap.Offset, err)
		}
	}
	st.next = snap.Offset
	st.records, st.shedN, st.skipped = snap.Records, snap.Shed, snap.Skipped
	return st, nil
}

// process feeds each partition's records to its operator. A panic in an
// operator or shedder becomes Run's error, wrapping pipeline.ErrPanic.
func (w *Worker) process(fs kgo.Fetches) (err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("kafka: processing %s: %w: %v\n%s", w.cfg.Topic, pipeline.ErrPanic, v, debug.Stack())
		}
	}()
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if err != nil || len(fp.Records) == 0 || fp.Topic != w.cfg.Topic {
			return
		}
		st := w.parts[fp.Partition]
		if st == nil {
			err = fmt.Errorf("kafka: records of %s partition %d arrived before its state was restored", fp.Topic, fp.Partition)
			return
		}
		err = w.take(st, fp.Records)
	})
	return err
}

// take runs one partition's polled records through its shedder and
// operator, checking that their offsets continue the partition's.
func (w *Worker) take(st *partState, recs []*kgo.Record) error {
	if st.shed != nil {
		// A poll can hold seconds of a slow operator's work: the
		// shedder decides on each ShedChunk records in turn, with the
		// load as it stands, rather than once for the whole poll.
		for len(recs) > ShedChunk {
			if err := w.takeChunk(st, recs[:ShedChunk]); err != nil {
				return err
			}
			recs = recs[ShedChunk:]
		}
	}
	return w.takeChunk(st, recs)
}

// ShedChunk is the most records of one partition a Worker's shedder
// decides on at once.
const ShedChunk = 256

// takeChunk runs recs through st's shedder and operator.
func (w *Worker) takeChunk(st *partState, recs []*kgo.Record) error {
	b := &st.in
	b.Reset()
	var skipped uint64
	for _, r := range recs {
		switch {
		case st.next < 0:
			st.start = r.Offset
		case r.Offset == st.next:
		case w.cfg.AllowOffsetGaps && r.Offset > st.next:
		default:
			return fmt.Errorf("%w: %s partition %d: record at offset %d, want %d", ErrOffsetGap, w.cfg.Topic, st.p, r.Offset, st.next)
		}
		st.next = r.Offset + 1
		if !addRecord(b, w.cfg.Extract, &st.scratch, r) {
			skipped++
		}
	}
	n := b.Len()
	now := time.Now()
	if st.shed != nil && n > 0 {
		st.shed.Shed(b, now, w.pressure(st, now))
	}
	shed := uint64(n - b.Len())
	st.out.Reset()
	if err := st.op.Process(b, &st.out); err != nil {
		return fmt.Errorf("kafka: %s partition %d: %w", w.cfg.Topic, st.p, err)
	}
	w.count(st.p, len(recs), b.Len(), st.out.Len(), time.Since(now))
	st.records += uint64(b.Len())
	if b.Len() > 0 {
		st.sent += uint64(b.Len())
		st.batches++
	}
	st.shedN += shed
	st.skipped += skipped
	st.dirty = true
	w.stats.records.Add(uint64(b.Len()))
	w.stats.shed.Add(shed)
	w.stats.skipped.Add(skipped)
	if w.hooks != nil && w.hooks.take != nil {
		w.hooks.take(st.p, len(recs), now)
	}
	return nil
}

// addRecord appends r to b: its key (and value) found by ex in its
// value, or its whole value as the key if ex is nil. It returns false,
// adding nothing, if ex rejects the record.
func addRecord(b *pipeline.Batch, ex pipeline.Extractor, scratch *pipeline.Scratch, r *kgo.Record) bool {
	var rec *pipeline.Record
	if ex != nil {
		e, err := ex.Extract(r.Value, scratch)
		if err != nil {
			return false
		}
		rec = b.Add(e.Key)
		rec.Value, rec.HasValue = e.Value, e.HasValue
	} else {
		rec = b.Add(r.Value)
	}
	rec.Time = r.Timestamp.UnixNano()
	return true
}

// pressure is the load signal of partition st's shedder at now. The
// operator runs chained to the poll loop, as a pipeline runs a stage
// inline (see pipeline.Pressure): the records it took count as sent
// (Records, Batches), and the time the loop did not wait for records
// (processing any partition, or checkpointing) as BackPressured: time
// the input was not read because of the work behind it. A loop that is
// behind its input never waits, polls full batches and spends all its
// time busy, which the controller reads as lag; the records the operator
// took per busy second give it the capacity. Buffers is two, a sender's
// own buffers, so that the controller closes its loop on what the
// operator takes (its capacity is measured, not only configured); the
// backlog is always empty, since the operator takes each batch before
// the next poll.
func (w *Worker) pressure(st *partState, now time.Time) pipeline.Pressure {
	return pipeline.Pressure{
		Buffers:       2,
		BackPressured: w.load.busy(now),
		Records:       st.sent,
		Batches:       st.batches,
	}
}
