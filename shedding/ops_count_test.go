package shedding

import (
	"context"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
)

// TestCountAnswerAccountsShed: records shed leave no trace among the kept
// ones, so a Count answers for them only through Answer. 150 records
// counted unshed, then 50 offered at p = 2^-16 and all shed: the kept
// count alone says exactly 150; Answer must not be Exact and its bounds
// must hold the 200 that arrived. Nothing shed: Answer is the count itself.
func TestCountAnswerAccountsShed(t *testing.T) {
	run := func(n int, shed *Config) (*Count, Summary) {
		t.Helper()
		gen, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 9, Keys: 100, S: 1.2, Count: int64(n)})
		if err != nil {
			t.Fatal(err)
		}
		op := &Count{}
		var g *Group
		var cfg pipeline.Config
		if shed != nil {
			if g, err = NewGroup(*shed); err != nil {
				t.Fatal(err)
			}
			cfg.NewShedder = g.NewShedder
		}
		p, err := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{
			Name: "count", New: func(int) (pipeline.Operator, error) { return op, nil },
		}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := Summary{MinP: 1, MeanP: 1, MeanInvP: 1}
		if g != nil {
			s = g.Summary()
		}
		return op, s
	}
	unshed, s0 := run(150, nil)
	if w := unshed.Answer(s0); w != unshed.Count || !w.Estimate().Exact || w.Value() != 150 {
		t.Fatalf("nothing shed: Answer %+v, want the count itself, exactly 150", w.Estimate())
	}
	shed, s1 := run(50, &Config{Controller: ControllerConfig{Fixed: PStep}})
	if s1.Shed != 50 || shed.Count.Kept() != 0 {
		t.Fatalf("at p = 2^-16: shed %d of 50, kept %d; the test wants all shed", s1.Shed, shed.Count.Kept())
	}
	total := &Count{}
	total.Count.Merge(&unshed.Count)
	total.Count.Merge(&shed.Count)
	s := s0.Merge(s1)
	if e := total.Count.Estimate(); !e.Exact || e.Value != 150 {
		t.Fatalf("kept count alone: %+v; the test expects it to say exactly 150", e)
	}
	for _, conf := range []float64{0.5, 0.95, 0.999} {
		w := total.Answer(s)
		e := w.EstimateAt(conf)
		if e.Exact || !(e.Lower <= 200 && 200 <= e.Upper) {
			t.Errorf("Answer at confidence %g: %+v, want not exact and bounds holding the 200 that arrived", conf, e)
		}
	}
	if total.Count.Shed() != 0 {
		t.Errorf("Answer modified the count: Shed %d", total.Count.Shed())
	}
}
