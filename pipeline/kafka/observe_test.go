package kafka

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/shedding"
)

// TestKafkaObserve: pipeline/observe's page reads a Worker as it reads a
// pipeline: the poll loop as the source (every record polled), each
// partition as an instance of stage "partition" with the records its
// operator took, and the transactions as checkpoints, with their
// durations and sizes.
func TestKafkaObserve(t *testing.T) {
	c := newCluster(t)
	n := scale(4000)
	c.produce(t, n)
	w := start(t, c.config())
	obs := observe.NewObserver(w.w, observe.Info{Job: "kafka", Checkpoints: true, Details: func() any { return w.w.Stats().Owned }}, nil)
	first := obs.Take(time.Now())
	if first.Checkpoints == nil || first.Records > uint64(n) {
		t.Fatalf("first snapshot: %+v", first)
	}
	c.waitCommitted(t, 30*time.Second)
	s := obs.Take(time.Now())
	if s.Records != uint64(n) {
		t.Errorf("snapshot: %d records polled, want %d", s.Records, n)
	}
	if len(s.Sources) != 1 || s.Sources[0].Records != uint64(n) || s.Sources[0].Busy <= 0 || s.Sources[0].Idle <= 0 {
		t.Errorf("sources %+v: want the poll loop, with its %d records, busy and idle time", s.Sources, n)
	}
	ends := c.in.ends()
	if len(s.Stages) != testPartitions {
		t.Fatalf("stages %+v: want the %d partitions", s.Stages, testPartitions)
	}
	for i, st := range s.Stages {
		if st.Stage != "partition" || st.Instance != i || st.RecordsIn != uint64(ends[i]) || st.Busy <= 0 {
			t.Errorf("stage %d: %+v; want partition %d with its %d records and busy time", i, st, i, ends[i])
		}
	}
	cs := s.Checkpoints
	if cs == nil || cs.Completed == 0 || cs.LastSize <= 0 || cs.LastDuration <= 0 || len(cs.Recent) == 0 || !cs.Recent[len(cs.Recent)-1].OK {
		t.Errorf("checkpoints %+v: want the committed transactions, the last with its duration and size", cs)
	}
	b, err := json.Marshal(s.Details)
	if err != nil || string(b) != "[0,1,2,3,4,5]" {
		t.Errorf("details %s (%v): want the owned partitions", b, err)
	}
	w.stop(t, true)
	after := obs.Take(time.Now())
	if after.Uptime != obs.Take(time.Now().Add(time.Second)).Uptime {
		t.Errorf("uptime goes on after Run returned")
	}
}

// TestKafkaObserveShedding: the page sums the shedders of the owned
// partitions (observe.Info.Shedders), read from Query.
func TestKafkaObserveShedding(t *testing.T) {
	c := newCluster(t)
	scfg := shedding.Config{Policy: shedding.Random, Salt: 3, Controller: shedding.ControllerConfig{Fixed: 0.5}}
	c.in.shed = &scfg
	cfg := c.config()
	cfg.NewShedder = func(int32) (pipeline.Shedder, error) { return shedding.NewShedder(scfg) }
	n := scale(4000)
	c.produce(t, n)
	w := start(t, cfg)
	shedders := func() []*shedding.Shedder {
		var shs []*shedding.Shedder
		w.w.Query(func(parts []PartitionState) error {
			for _, p := range parts {
				shs = append(shs, p.Shedder.(*shedding.Shedder))
			}
			return nil
		})
		return shs
	}
	obs := observe.NewObserver(w.w, observe.Info{Job: "kafka", Checkpoints: true, Shedders: shedders}, nil)
	snaps := c.waitCommitted(t, 30*time.Second)
	s := obs.Take(time.Now())
	var kept, shed uint64
	for _, sn := range snaps {
		kept += sn.Records
		shed += sn.Shed
	}
	sh := s.Shedding
	if sh == nil || sh.Seen != uint64(n) || sh.Kept != kept || sh.Shed != shed || sh.KeepP != 0.5 {
		t.Errorf("shedding %+v: want %d seen, %d kept, %d shed at p 0.5, as the snapshots say", sh, n, kept, shed)
	}
	var in uint64
	for _, st := range s.Stages {
		in += st.RecordsIn
	}
	if in != kept || s.Records != uint64(n) {
		t.Errorf("%d records polled, %d taken by the operators; want %d and %d", s.Records, in, n, kept)
	}
}
