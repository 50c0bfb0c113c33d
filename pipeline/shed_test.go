package pipeline

import (
	"context"
	"testing"
	"time"
	"unsafe"
)

// halfShedder keeps records with an even hash, at keep probability 1/2.
type halfShedder struct{ calls int }

func (s *halfShedder) Shed(b *Batch, now time.Time, p Pressure) {
	s.calls++
	b.Compact(func(r *Record) bool {
		r.KeepP = 0.5
		return r.Hash%2 == 0
	})
}

func TestShedderAtIngress(t *testing.T) {
	keys := zipfKeys(20000, 5)
	var even int
	for _, k := range keys {
		var b Batch
		if b.Add(k).Hash%2 == 0 {
			even++
		}
	}
	for _, tc := range []struct {
		name  string
		stage Stage
	}{
		{"chained", Stage{}},
		{"through a channel", Stage{NoChain: true}},
		{"by key", Stage{Input: ByKey, Parallelism: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type tally struct {
				seen, bad int
				weight    float64
			}
			tallies := make([]tally, 2)
			st := tc.stage
			st.Name = "count"
			st.New = func(inst int) (Operator, error) {
				c := &tallies[inst]
				return OperatorFunc(func(in, out *Batch) error {
					for i := range in.Records {
						c.seen++
						c.weight += in.Records[i].Weight()
						if in.Records[i].Hash%2 != 0 {
							c.bad++
						}
					}
					return nil
				}), nil
			}
			shedders := map[int]*halfShedder{}
			p, err := New([]Source{newKeySource(keys, 0, len(keys))}, []Stage{st}, Config{
				BatchSize:  100,
				NewShedder: func(i int) Shedder { shedders[i] = new(halfShedder); return shedders[i] },
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			seen, bad, weight := tallies[0].seen+tallies[1].seen, tallies[0].bad+tallies[1].bad, tallies[0].weight+tallies[1].weight
			if seen != even || bad != 0 || weight != float64(2*even) {
				t.Errorf("operator saw %d records (%d shed ones), weight %v; want %d, 0, %d", seen, bad, weight, even, 2*even)
			}
			if shedders[0].calls < len(keys)/100 {
				t.Errorf("shedder called %d times", shedders[0].calls)
			}
		})
	}
	if sz := unsafe.Sizeof(Record{}); sz != 40 {
		t.Errorf("Record is %d bytes, want 40", sz)
	}
}
