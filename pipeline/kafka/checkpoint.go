package kafka

import (
	"context"
	"encoding"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// checkpoint runs transaction n: every dirty partition's snapshot goes to
// the checkpoint topic and the consumer offsets are committed, together.
// A clean abort rolls every partition back to its last commit; an End
// that fails leaves the outcome unknown (errUnknown).
func (w *Worker) checkpoint(sess *kgo.GroupTransactSession) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var dirty []*partState
	for _, p := range slices.Sorted(maps.Keys(w.parts)) {
		if st := w.parts[p]; st.dirty {
			dirty = append(dirty, st)
		}
	}
	if len(dirty) == 0 {
		return nil
	}
	t0 := time.Now()
	w.stats.inCkpt.Store(true)
	defer w.stats.inCkpt.Store(false)
	// The rebalance gate must be open before Begin and End: End waits for
	// a heartbeat that a blocked rebalance would hold up.
	sess.AllowRebalance()
	if err := sess.Begin(); err != nil {
		return errUnknown{fmt.Errorf("beginning a transaction: %w", err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
	defer cancel()

	uncommitted := sess.Client().UncommittedOffsets()[w.cfg.Topic]
	maxValue := int(w.topics.maxMessageBytes) - recordHeadroom
	var (
		pmu      sync.Mutex
		firstErr error
		bytes    int64
	)
	fail := func(err error) {
		pmu.Lock()
		firstErr = cmpOr(firstErr, err)
		pmu.Unlock()
	}
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			fail(err)
		}
	}
	snaps := make(map[*partState]*Snapshot, len(dirty))
	for _, st := range dirty {
		eo, ok := uncommitted[st.p]
		if !ok {
			// Revoked under us: the transaction aborts (the session saw the
			// revoke) and the partition goes with the revoke event.
			continue
		}
		if !w.cfg.AllowOffsetGaps && eo.Offset != st.next {
			fail(fmt.Errorf("%w: partition %d: the offset to commit is %d, the state is at %d", ErrOffsetGap, st.p, eo.Offset, st.next))
			break
		}
		snap, err := st.snapshot(eo.Offset)
		if err != nil {
			fail(err)
			break
		}
		snaps[st] = snap
		chunks, man := encodeSnapshot(snap, maxValue)
		for i, c := range chunks {
			sess.Produce(ctx, &kgo.Record{Topic: w.cfg.CheckpointTopic, Partition: st.p, Key: chunkKey(st.p, i), Value: c}, promise)
			bytes += int64(len(c))
		}
		sess.Produce(ctx, &kgo.Record{Topic: w.cfg.CheckpointTopic, Partition: st.p, Key: manifestKey(st.p), Value: man}, promise)
		bytes += int64(len(man))
	}
	if err := sess.Client().Flush(ctx); err != nil {
		fail(err)
	}
	pmu.Lock()
	try, abortErr := kgo.TransactionEndTry(firstErr == nil), firstErr
	pmu.Unlock()
	// End gets its own bounded context, never one cancelled to shut
	// down: a cancelled End can report "not committed" for a transaction
	// the broker committed.
	committed, err := sess.End(ctx, try)
	if err != nil {
		return errUnknown{fmt.Errorf("ending the transaction: %w", err)}
	}
	if !committed {
		w.stats.aborted.Add(1)
		if abortErr != nil {
			w.stats.lastErr.Store(&abortErr)
			w.cfg.logf("kafka: checkpoint aborted: %v; rolling back", abortErr)
		} else {
			w.cfg.logf("kafka: checkpoint aborted (the group rebalanced); rolling back")
		}
		return w.rollback(sess)
	}
	for st, snap := range snaps {
		st.committed = snap
		st.dirty = false
		st.start = -1
	}
	w.stats.committed.Add(1)
	w.stats.lastCkpt.Store(int64(time.Since(t0)))
	w.stats.lastBytes.Store(bytes)
	return nil
}

// snapshot copies the partition's state, to be committed at offset.
func (st *partState) snapshot(offset int64) (*Snapshot, error) {
	state, err := st.op.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("kafka: snapshot of partition %d: %w", st.p, err)
	}
	s := &Snapshot{Partition: st.p, Offset: offset, Records: st.records, Shed: st.shedN, Skipped: st.skipped, State: state, ID: randomID()}
	if m, ok := st.shed.(encoding.BinaryMarshaler); ok {
		if s.ShedState, err = m.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("kafka: snapshot of partition %d's shedder: %w", st.p, err)
		}
	}
	return s, nil
}

// rollback restores every owned partition to its last committed state.
// The session has rewound the offsets of partitions with a commit; those
// without one are rewound here to their first record.
func (w *Worker) rollback(sess *kgo.GroupTransactSession) error {
	rewind := make(map[int32]kgo.EpochOffset)
	for p, st := range w.parts {
		if !st.dirty {
			continue
		}
		nst, err := w.newPart(p, st.committed)
		if err != nil {
			return err
		}
		if st.committed == nil && st.start >= 0 {
			rewind[p] = kgo.EpochOffset{Epoch: -1, Offset: st.start}
			nst.next = st.start
		}
		w.parts[p] = nst
		w.stats.rollbacks.Add(1)
	}
	if len(rewind) > 0 {
		sess.Client().SetOffsets(map[string]map[int32]kgo.EpochOffset{w.cfg.Topic: rewind})
	}
	return nil
}
