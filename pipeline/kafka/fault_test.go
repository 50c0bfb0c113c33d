package kafka

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaKilledInTransaction: A vanishes from the network inside a
// transaction (its EndTxn swallowed, its connections cut, no LeaveGroup),
// with its snapshots and offsets written but not committed. B takes over
// every partition once A's session and transaction time out; nothing is
// lost or counted twice.
func TestKafkaKilledInTransaction(t *testing.T) {
	t.Run("classic", func(t *testing.T) { testKilledInTransaction(t, false) })
	t.Run("kip848", func(t *testing.T) { testKilledInTransaction(t, true) })
}

func testKilledInTransaction(t *testing.T, kip848 bool) {
	c := newCluster(t)
	c.produce(t, scale(4000))
	var d cutDialer
	cfgA := c.config(kgo.Dialer(d.dial))
	cfgA.TransactionalID, cfgA.KIP848 = "worker-a", kip848
	a := start(t, cfgA)
	stopProd := producing(t, c, scale(200))
	deadline := time.Now().Add(20 * time.Second)
	for a.w.Stats().Committed < 2 {
		if time.Now().After(deadline) {
			t.Fatal("A committed nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var killed atomic.Bool
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if req.(*kmsg.EndTxnRequest).TransactionalID != "worker-a" || !req.(*kmsg.EndTxnRequest).Commit {
			return nil, nil, false
		}
		d.cutAll()
		killed.Store(true)
		return nil, errors.New("killed"), true
	})
	for !killed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("A never ended a transaction")
		}
		time.Sleep(10 * time.Millisecond)
	}
	killedAt := time.Now()
	cfgB := c.config()
	cfgB.TransactionalID, cfgB.KIP848 = "worker-b", kip848
	b := start(t, cfgB)
	waitOwned(t, b, 20*time.Second)
	t.Logf("B owns partitions %v after A was killed", time.Since(killedAt))
	stopProd()
	c.produce(t, scale(1000))
	for len(b.w.Stats().Owned) < testPartitions {
		if time.Since(killedAt) > 30*time.Second {
			t.Fatalf("B owns %v 30 s after A was killed", b.w.Stats().Owned)
		}
		time.Sleep(20 * time.Millisecond)
	}
	snaps := c.waitCommitted(t, 30*time.Second)
	c.checkFinal(t, snaps)
	b.stop(t, true)
	c.checkAllSnapshots(t)
	a.cancel() // A may take a while to give up on its dead connections
	t.Logf("A %+v", a.w.Stats())
	t.Logf("B %+v", b.w.Stats())
}

// TestKafkaInjectedFaults fails some EndTxn, TxnOffsetCommit and produce
// requests of two workers: every failed transaction rolls back or
// restores, and the final state is still exact.
func TestKafkaInjectedFaults(t *testing.T) {
	c := newCluster(t)
	var endTxns, offCommits, produces atomic.Int64
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || endTxns.Add(1)%4 != 0 {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		// Alternate an error franz-go turns into an abort with one
		// it returns from End (state unknown: the session is recreated).
		if endTxns.Load()%8 == 0 {
			resp.ErrorCode = kerr.UnknownServerError.Code
		} else {
			resp.ErrorCode = kerr.InvalidTxnState.Code
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if offCommits.Add(1)%5 != 0 {
			return nil, nil, false
		}
		r := req.(*kmsg.TxnOffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.UnknownServerError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		// Only the workers produce transactionally, and only to the
		// checkpoint topic (newer requests name topics by ID).
		if r.TransactionID == nil || produces.Add(1)%6 != 0 {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	c.produce(t, scale(3000))
	cfg := c.config()
	a := start(t, cfg)
	stopProd := producing(t, c, scale(200))
	time.Sleep(time.Second)
	b := start(t, cfg)
	time.Sleep(2 * time.Second)
	stopProd()
	c.produce(t, scale(1000))
	snaps := c.waitCommitted(t, 40*time.Second)
	c.checkFinal(t, snaps)
	sa, sb := a.w.Stats(), b.w.Stats()
	a.stop(t, true)
	b.stop(t, true)
	c.checkAllSnapshots(t)
	t.Logf("injected: %d EndTxn, %d TxnOffsetCommit, %d produce requests seen", endTxns.Load(), offCommits.Load(), produces.Load())
	t.Logf("A %+v", sa)
	t.Logf("B %+v", sb)
	if sa.Aborted+sb.Aborted == 0 || sa.Failed+sb.Failed == 0 {
		t.Errorf("want both aborted and failed (unknown) transactions; A %d/%d, B %d/%d", sa.Aborted, sa.Failed, sb.Aborted, sb.Failed)
	}
}

// TestKafkaFirstTransactionAborts: the first transaction, before any
// partition has a commit, aborts; the worker rolls every partition back
// to empty and rewinds it to its first record, and the final state is
// exact.
func TestKafkaFirstTransactionAborts(t *testing.T) {
	c := newCluster(t)
	var aborted atomic.Bool
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit {
			c.KeepControl()
			return nil, nil, false
		}
		aborted.Store(true)
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code // franz-go retries it as an abort
		return resp, nil, true
	})
	c.produce(t, scale(3000))
	a := start(t, c.config())
	snaps := c.waitCommitted(t, 30*time.Second)
	c.checkFinal(t, snaps)
	a.stop(t, true)
	st := a.w.Stats()
	if !aborted.Load() || st.Aborted == 0 || st.Rollbacks == 0 {
		t.Errorf("first transaction not aborted and rolled back: %+v", st)
	}
	c.checkAllSnapshots(t)
}

// TestKafkaJoinWhileMemberDead: A and B share the input; A vanishes
// without leaving, and C joins at once, so the rebalance waits for A's
// session to expire while B may be inside a checkpoint (its transaction
// can outlive its timeout and be fenced). Whatever B goes through, the
// group's final state is exact.
func TestKafkaJoinWhileMemberDead(t *testing.T) {
	c := newCluster(t)
	c.produce(t, scale(3000))
	var d cutDialer
	a := start(t, c.config(kgo.Dialer(d.dial)))
	b := start(t, c.config())
	stopProd := producing(t, c, scale(100))
	waitOwned(t, a, 20*time.Second)
	waitOwned(t, b, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	d.cutAll()
	cw := start(t, c.config())
	time.Sleep(3 * time.Second)
	stopProd()
	c.produce(t, scale(500))
	snaps := c.waitCommitted(t, 40*time.Second)
	c.checkFinal(t, snaps)
	b.stop(t, true)
	cw.stop(t, true)
	c.checkAllSnapshots(t)
	a.cancel()
	t.Logf("B %+v", b.w.Stats())
	t.Logf("C %+v", cw.w.Stats())
}
