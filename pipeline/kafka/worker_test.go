package kafka

import (
	"testing"
	"time"
)

func TestKafkaSmoke(t *testing.T) {
	c := newCluster(t)
	c.produce(t, 3000)
	a := start(t, c.config())
	snaps := c.waitCommitted(t, 20*time.Second)
	c.checkFinal(t, snaps)
	a.stop(t, true)
	t.Logf("stats %+v; %d snapshots checked", a.w.Stats(), c.checkAllSnapshots(t))
}
