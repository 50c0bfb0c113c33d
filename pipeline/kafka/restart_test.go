package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestKafkaBrokerRestart restarts the whole cluster on its data directory
// while a worker runs and input flows: the worker rides it out (a
// transaction in flight aborts or ends unknown, and it restores), and the
// final state is exact; after a second restart a new worker resumes
// from the state the data directory kept.
func TestKafkaBrokerRestart(t *testing.T) {
	c := newCluster(t, kfake.DataDir(t.TempDir()))
	c.produce(t, scale(2000))
	a := start(t, c.config())
	stopProd := producing(t, c, scale(100))
	deadline := time.Now().Add(20 * time.Second)
	for a.w.Stats().Committed < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no commit before the restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.restart(t)
	time.Sleep(time.Second)
	stopProd()
	c.produce(t, scale(1000))
	snaps := c.waitCommitted(t, 60*time.Second)
	c.checkFinal(t, snaps)
	a.stop(t, true)
	t.Logf("A %+v", a.w.Stats())

	// A new worker after another restart resumes from what the data
	// directory kept: snapshots, transaction markers and group offsets.
	c.restart(t)
	c.produce(t, scale(1000))
	b := start(t, c.config())
	snaps = c.waitCommitted(t, 60*time.Second)
	c.checkFinal(t, snaps)
	b.stop(t, true)
	if st := b.w.Stats(); st.Restores != testPartitions {
		t.Errorf("B restored %d partitions, want %d", st.Restores, testPartitions)
	}
	c.checkAllSnapshots(t)
}
