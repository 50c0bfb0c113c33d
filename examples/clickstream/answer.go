package main

import (
	"fmt"
	"io"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// item is a counted key with its bounds, as the page's tables show them.
type item struct {
	Key   string  `json:"key"`
	Count float64 `json:"count"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// estimate is an estimate of one key's count: the page draws it as a band.
type estimate struct {
	Key        string  `json:"key"`
	Value      float64 `json:"value"`
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
	Confidence float64 `json:"confidence"`
}

type listJSON struct {
	Items []item `json:"items"`
}

// answerJSON is the job's answer: what it prints at the end and what the
// page shows live.
type answerJSON struct {
	Clicks uint64 `json:"clicks"`
	// PerSource are the clicks each source produced.
	PerSource    []uint64 `json:"clicks_per_source"`
	Shed         uint64   `json:"shed"`
	ShedFraction float64  `json:"shed_fraction"`
	Confidence   float64  `json:"confidence"`
	TopPage      estimate `json:"top_page"`
	Pages        listJSON `json:"pages"`
	Users        listJSON `json:"users"`
	Error        string   `json:"error,omitempty"`
}

// answer merges each branch's instances and scales what was kept back to
// what arrived, with bounds at o.confidence: the TopK's certain bounds and
// the count-min's (at a confidence that, by the union bound, leaves room
// for the sampling error) widened by the sampling error.
func answer(p *pipeline.Pipeline, shed *shedding.Group, o options) answerJSON {
	sum := shed.Summary() // before the sketches: it covers every record they hold
	a := answerJSON{Clicks: sum.Seen, Shed: sum.Shed, ShedFraction: sum.Fraction(), Confidence: o.confidence}
	for i := range o.par {
		a.PerSource = append(a.PerSource, shed.Shedder(i).Summary().Seen)
	}
	top, _ := sketch.NewTopK(1024)
	err := pipeline.QueryAs(p, p.BranchStage("pages", 0), func(_ int, op *shedding.HeavyHitters) error {
		return top.Merge(op.TopK)
	})
	cm, _ := sketch.NewCountMinWidthDepth(1<<14, 5)
	if err == nil {
		err = pipeline.QueryAs(p, p.BranchStage("users", 0), func(_ int, op *shedding.Frequency) error {
			return cm.Merge(op.CM)
		})
	}
	if err != nil {
		a.Error = err.Error()
		return a
	}
	a.Pages.Items = []item{}
	for i, it := range shedding.TopItems(top, o.top, sum, o.confidence) {
		a.Pages.Items = append(a.Pages.Items, item{Key: string(it.Key), Count: it.Count.Value, Lower: it.Count.Lower, Upper: it.Count.Upper})
		if i == 0 {
			a.TopPage = estimate{Key: string(it.Key), Value: it.Count.Value, Lower: it.Count.Lower, Upper: it.Count.Upper, Confidence: it.Count.Confidence}
		}
	}
	half := (1 + o.confidence) / 2 // sketch and sampling at half the risk each
	for _, u := range watched {
		e := shedding.FromUnits(cm.EstimateStringAt(u, half))
		e = shedding.Widen(e, sum.CountVariance(e.Value), half)
		a.Users.Items = append(a.Users.Items, item{Key: u, Count: e.Value, Lower: e.Lower, Upper: e.Upper})
	}
	return a
}

// report prints the answer.
func report(w io.Writer, a answerJSON) error {
	if a.Error != "" {
		return fmt.Errorf("answer: %s", a.Error)
	}
	fmt.Fprintf(w, "clicks      %d, shed %d (%.1f%%)\n", a.Clicks, a.Shed, 100*a.ShedFraction)
	fmt.Fprintf(w, "top pages   (%g%% bounds, sampling error included)\n", 100*a.Confidence)
	for _, it := range a.Pages.Items {
		fmt.Fprintf(w, "  %-8s %10.0f  (%.0f .. %.0f)\n", it.Key, it.Count, it.Lower, it.Upper)
	}
	fmt.Fprintf(w, "watched users\n")
	for _, it := range a.Users.Items {
		fmt.Fprintf(w, "  %-8s %10.0f  (%.0f .. %.0f)\n", it.Key, it.Count, it.Lower, it.Upper)
	}
	_, err := fmt.Fprintln(w)
	return err
}
