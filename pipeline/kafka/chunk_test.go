package kafka

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaChunkedSnapshots: with a checkpoint topic whose
// max.message.bytes is far below a partition's state, snapshots are cut
// into chunks that fit, restore on another worker and merge exactly.
func TestKafkaChunkedSnapshots(t *testing.T) {
	c := newCluster(t)
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(c.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	const limit = 8192
	v := strconv.Itoa(limit)
	compact := "compact"
	ctx := context.Background()
	resp, err := adm.CreateTopic(ctx, testPartitions, -1, map[string]*string{"max.message.bytes": &v, "cleanup.policy": &compact}, DefaultCheckpointTopic(testGroup))
	adm.Close()
	if err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	c.key = func(seq int) string { return "user-" + strconv.Itoa(seq) }
	c.produce(t, 20000)
	a := start(t, c.config())
	snaps := c.waitCommitted(t, 30*time.Second)
	a.stop(t, true)
	big := 0
	for _, s := range snaps {
		if len(s.State) > 2*limit {
			big++
		}
	}
	if big == 0 {
		t.Fatalf("no snapshot larger than two chunks; the test needs more keys")
	}
	c.produce(t, scale(2000))
	b := start(t, c.config())
	snaps = c.waitCommitted(t, 30*time.Second)
	b.stop(t, true)
	c.checkFinal(t, snaps)
	c.checkAllSnapshots(t)
	if st := b.w.Stats(); st.Restores == 0 || st.LastCheckpointBytes < limit {
		t.Errorf("B: %+v; want restores and a checkpoint of more than one chunk", st)
	}
	if st := a.w.Stats(); st.Aborted+st.Failed > 0 {
		t.Errorf("A: %+v; no transaction should fail", st)
	}
}

// TestKafkaCompactedCheckpoints: after the brokers compact the checkpoint
// topic (older snapshots of each partition go, the latest stays), the
// group's answer reads the same and a new worker restores from it.
func TestKafkaCompactedCheckpoints(t *testing.T) {
	c := newCluster(t)
	c.produce(t, scale(2000))
	a := start(t, c.config())
	c.waitCommitted(t, 20*time.Second)
	for range 3 {
		c.produce(t, scale(500))
		c.waitCommitted(t, 20*time.Second)
	}
	a.stop(t, true)
	before := c.countCheckpointRecords(t)
	c.Compact()
	if after := c.countCheckpointRecords(t); after >= before {
		t.Fatalf("compaction left %d of %d checkpoint records", after, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snaps, err := ReadSnapshots(ctx, ReadConfig{Brokers: c.addrs, Group: testGroup})
	if err != nil {
		t.Fatalf("reading compacted snapshots: %v", err)
	}
	c.checkFinal(t, snaps)
	c.produce(t, scale(500))
	b := start(t, c.config())
	c.checkFinal(t, c.waitCommitted(t, 20*time.Second))
	b.stop(t, true)
}

// countCheckpointRecords counts the records (markers included) left in
// the checkpoint topic.
func (c *cluster) countCheckpointRecords(t *testing.T) int {
	t.Helper()
	n := 0
	c.readCheckpointTopic(t, 10*time.Second, false, func(*kgo.Record) { n++ })
	return n
}
