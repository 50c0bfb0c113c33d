package kafka

import (
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// TestKafkaShedding: a worker that sheds still advances every offset,
// records in each snapshot what it shed, and saves its shedder's state,
// so that a new owner sheds exactly the records the old one would have:
// the group's state equals that of one shedder per partition over all
// its records.
func TestKafkaShedding(t *testing.T) {
	for _, policy := range []shedding.Policy{shedding.Random, shedding.KeyHash} {
		t.Run(policy.String(), func(t *testing.T) {
			c := newCluster(t)
			scfg := shedding.Config{Policy: policy, Salt: 7, Controller: shedding.ControllerConfig{Fixed: 0.5}}
			c.in.shed = &scfg
			cfg := c.config()
			cfg.NewShedder = func(int32) (pipeline.Shedder, error) { return shedding.NewShedder(scfg) }
			c.produce(t, scale(3000))
			a := start(t, cfg)
			stopProd := producing(t, c, scale(200))
			time.Sleep(500 * time.Millisecond)
			b := start(t, cfg)
			waitOwned(t, b, 20*time.Second)
			time.Sleep(500 * time.Millisecond)
			a.stop(t, true)
			stopProd()
			c.produce(t, scale(1000))
			snaps := c.waitCommitted(t, 30*time.Second)
			c.checkFinal(t, snaps)
			b.stop(t, true)
			c.checkAllSnapshots(t)
			for _, s := range snaps {
				if s.Shed == 0 || s.Records == 0 {
					t.Errorf("partition %d at offset %d: %d records kept, %d shed; want both > 0 at p = 0.5", s.Partition, s.Offset, s.Records, s.Shed)
				}
				if len(s.ShedState) == 0 {
					t.Errorf("partition %d: no shedder state in the snapshot", s.Partition)
				}
			}
		})
	}
}
