package kafka

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline"
)

func pollOf(p int32, from int64, n int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: testTopic, Partition: p, Offset: from + int64(i), Value: []byte("user-" + strconv.Itoa(i%50))}
	}
	return recs
}

// TestKafkaTakeAllocs: once its buffers have grown, a worker feeds a
// poll's records to a partition's operator without allocating, and a
// Source fills a batch without allocating.
func TestKafkaTakeAllocs(t *testing.T) {
	w, err := NewWorker(Config{Brokers: []string{"x:1"}, Topic: testTopic, Group: "g", New: newDistinct})
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.newPart(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := pollOf(0, 0, 500)
	if err := w.take(st, recs); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i, r := range recs {
			r.Offset = st.next + int64(i)
		}
		if err := w.take(st, recs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Worker.take: got %v allocation(s) per poll (want zero)", allocs)
	}

	s, err := NewSource(SourceConfig{Brokers: []string{"x:1"}, Topic: testTopic, Partitions: []int32{0}})
	if err != nil {
		t.Fatal(err)
	}
	var b pipeline.Batch
	next := int64(0)
	fill := func() {
		b.Reset()
		for i, r := range recs {
			r.Offset = next + int64(i)
			if err := s.take(&b, r); err != nil {
				t.Fatal(err)
			}
		}
		next += int64(len(recs))
	}
	fill()
	if allocs := testing.AllocsPerRun(100, fill); allocs != 0 {
		t.Errorf("Source.take: got %v allocation(s) per batch (want zero)", allocs)
	}
}
