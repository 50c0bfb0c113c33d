package shedding

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/pipeline"
)

// Summary says how much a shedder (or a Group, or any sum of them) shed.
// The zero value is the summary of nothing; a Summary is a plain value.
type Summary struct {
	// Seen records were offered, Kept of them kept and Shed dropped.
	Seen, Kept, Shed uint64
	// MinP is the smallest keep probability in force while records were
	// offered (1 if none were), what ThetaDistinct.LowerTheta needs.
	MinP float64
	// MeanP and MeanInvP are the means, over the records offered, of p and
	// 1/p (1 if none were). A count of f records spread over the stream
	// like the rest has HT variance about f·(MeanInvP - 1).
	MeanP, MeanInvP float64
}

// Merge returns the summary of both streams.
func (s Summary) Merge(o Summary) Summary {
	n := s.Seen + o.Seen
	if n == 0 {
		return Summary{MinP: 1, MeanP: 1, MeanInvP: 1}
	}
	mean := func(a, b float64) float64 {
		return (a*float64(s.Seen) + b*float64(o.Seen)) / float64(n)
	}
	minP := s.MinP
	if s.Seen == 0 || o.Seen > 0 && o.MinP < minP {
		minP = o.MinP
	}
	return Summary{
		Seen: n, Kept: s.Kept + o.Kept, Shed: s.Shed + o.Shed,
		MinP: minP, MeanP: mean(s.MeanP, o.MeanP), MeanInvP: mean(s.MeanInvP, o.MeanInvP),
	}
}

// Shedding reports whether anything was shed.
func (s Summary) Shedding() bool { return s.Shed > 0 }

// Fraction returns the fraction of the records offered that were shed.
func (s Summary) Fraction() float64 {
	if s.Seen == 0 {
		return 0
	}
	return float64(s.Shed) / float64(s.Seen)
}

// CountVariance returns the HT sampling variance of a count of about f
// records under Random shedding, assuming they arrived spread over the
// stream like the rest (so they met the same mix of p): f·(MeanInvP - 1).
// Use it with Widen for a per-key count of a sketch fed Units(p).
func (s Summary) CountVariance(f float64) float64 { return max(f, 0) * (s.MeanInvP - 1) }

// String says how much was shed, for logs and reports.
func (s Summary) String() string {
	if !s.Shedding() {
		return fmt.Sprintf("nothing shed of %d records", s.Seen)
	}
	return fmt.Sprintf("shed %d of %d records (%.1f%%), p min %.4g mean %.4g", s.Shed, s.Seen, 100*s.Fraction(), s.MinP, s.MeanP)
}

// Group makes the shedders of a pipeline's sources, one per source, all
// with one Config but a salt of their own, and sums up what they shed. Pass
// its NewShedder as pipeline.Config.NewShedder. With
// ControllerConfig.CPU, their controllers weigh the CPU cost per record
// over all of them.
//
// The zero value is not usable; make one with NewGroup. A Group is safe
// for concurrent use.
type Group struct {
	cfg      Config
	mu       sync.Mutex
	shedders map[int]*Shedder
}

// NewGroup checks cfg and returns an empty group.
func NewGroup(cfg Config) (*Group, error) {
	if _, err := NewShedder(cfg); err != nil {
		return nil, err
	}
	if cfg.Controller.CPU != nil {
		// The shedders weigh the CPU cost per record over all of them.
		cfg.Controller.meter = new(cpuMeter)
	}
	return &Group{cfg: cfg, shedders: map[int]*Shedder{}}, nil
}

// NewShedder returns the shedder of source i, making it on first use.
func (g *Group) NewShedder(source int) pipeline.Shedder { return g.Shedder(source) }

// Shedder returns the shedder of source i, making it on first use.
func (g *Group) Shedder(source int) *Shedder {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.shedders[source]; ok {
		return s
	}
	cfg := g.cfg
	cfg.Salt ^= hashmix.SplitMix64(uint64(source))
	s, err := NewShedder(cfg)
	if err != nil {
		panic(err) // NewGroup checked the same config
	}
	g.shedders[source] = s
	return s
}

// Summary returns the sum of the summaries of the group's shedders.
func (g *Group) Summary() Summary {
	g.mu.Lock()
	defer g.mu.Unlock()
	var sum Summary
	for _, i := range slices.Sorted(maps.Keys(g.shedders)) {
		sum = sum.Merge(g.shedders[i].Summary())
	}
	if sum.Seen == 0 {
		sum = Summary{MinP: 1, MeanP: 1, MeanInvP: 1}
	}
	return sum
}
