package kafka

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/observe"
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
