package pipeline_test

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// A Window answers per time window: here distinct users per minute,
// every 30 seconds, by event time, with 10 seconds of allowed lateness.
func ExampleWindow() {
	w := &pipeline.Window{
		Size: time.Minute, Slide: 30 * time.Second,
		EventTime: true, Lateness: 10 * time.Second,
		OnWindow: func(a pipeline.WindowAnswer) error {
			e := a.Op.(*pipeline.Distinct).HLL.Estimate()
			fmt.Printf("[%s, %s) %d records, %.0f distinct users, %d late so far\n",
				a.Start.UTC().Format("15:04:05"), a.End.UTC().Format("15:04:05"), a.Records, e.Value, a.Late)
			return nil
		},
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	b := new(pipeline.Batch)
	for s := range 150 {
		// User s%40 at second s; every 50th record is 20 s behind:
		// the first of them is late, the others within the lateness.
		t := t0.Add(time.Duration(s) * time.Second)
		if s%50 == 49 {
			t = t.Add(-20 * time.Second)
		}
		b.Add(fmt.Appendf(nil, "user-%d", s%40)).Time = t.UnixNano()
	}
	if err := w.Process(b, new(pipeline.Batch)); err != nil {
		panic(err)
	}
	fmt.Println("late:", w.Late())
	// Output:
	// [11:59:30, 12:00:30) 30 records, 30 distinct users, 0 late so far
	// [12:00:00, 12:01:00) 59 records, 40 distinct users, 1 late so far
	// [12:00:30, 12:01:30) 60 records, 40 distinct users, 1 late so far
	// [12:01:00, 12:02:00) 60 records, 40 distinct users, 1 late so far
	// late: 1
}

// GroupDistinct ranks groups by their distinct values; its records'
// keys are (group, value) composite keys.
func ExampleGroupDistinct() {
	op := new(pipeline.GroupDistinct)
	b := new(pipeline.Batch)
	key := func(group, value string) []byte {
		k := binary.AppendUvarint(nil, uint64(len(group)))
		k = append(k, group...)
		k = binary.AppendUvarint(k, uint64(len(value)))
		return append(k, value...)
	}
	for u := range 300 {
		b.Add(key("/home", fmt.Sprint("u", u)))
		if u%3 == 0 {
			b.Add(key("/cart", fmt.Sprint("u", u)))
			b.Add(key("/cart", fmt.Sprint("u", u)))
		}
	}
	b.Add([]byte("not a (group, value) key"))
	if err := op.Process(b, new(pipeline.Batch)); err != nil {
		panic(err)
	}
	for _, g := range op.Top(2) {
		fmt.Println(string(g.Key), g.Estimate)
	}
	fmt.Println("skipped:", op.Skipped)
	// Output:
	// /home 300 (exact)
	// /cart 100 (exact)
	// skipped: 1
}
