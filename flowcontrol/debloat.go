package flowcontrol

import (
	"fmt"
	"math"
	"time"
)

// Defaults used where a DebloatConfig field is zero. Target, Samples and
// Threshold are Flink's buffer-debloat defaults (1 s, 20 samples, 25 %).
const (
	DefaultDebloatTarget    = time.Second
	DefaultDebloatSamples   = 20
	DefaultDebloatThreshold = 0.25
	DefaultMinBatch         = 16
	DefaultMaxBatch         = 4096
)

// DebloatConfig tunes a Debloater. The zero value means the defaults above.
type DebloatConfig struct {
	// Target is how long the data in flight should take to drain at the
	// measured throughput; 0 means DefaultDebloatTarget.
	Target time.Duration
	// MinBatch and MaxBatch bound the suggestion, in records; 0 means
	// DefaultMinBatch and DefaultMaxBatch. The suggestion starts at
	// MaxBatch, as Flink's does, until throughput has been measured.
	MinBatch, MaxBatch int
	// Samples sets the smoothing: the throughput is an exponentially
	// weighted moving average with weight 2/(Samples+1) on each new
	// observation (the usual N-sample EWMA); 0 means DefaultDebloatSamples.
	Samples int
	// Threshold is the relative change below which the suggestion stays
	// put, so that batch sizes do not jitter; 0 means
	// DefaultDebloatThreshold, a negative value means any change counts.
	// A move to MinBatch or MaxBatch always counts, so the bounds are
	// reachable from near them.
	Threshold float64
}

// Debloater suggests a batch size that keeps the data in flight drainable
// within a target time, like Flink's buffer debloating: if the receiver
// drains T records per second and n buffers are in flight, batches of
// T*Target/n records hold Target worth of work in flight. When throughput
// drops (the receiver is back-pressured) batches shrink, so barriers and
// fresh data queue behind less; when it rises they grow back, amortising
// per-batch costs.
//
// A Debloater is a pure function of its observations: time is passed in,
// so a fake clock tests it exactly. The zero value is not usable: create
// one with NewDebloater. It is not safe for concurrent use.
type Debloater struct {
	target    float64 // seconds
	min, max  int
	alpha     float64
	threshold float64

	started bool
	last    time.Time
	pending float64 // records observed since last, awaiting elapsed time
	rate    float64 // smoothed records per second
	sampled bool
	size    int
}

// NewDebloater returns a Debloater whose suggestion starts at MaxBatch.
func NewDebloater(cfg DebloatConfig) (*Debloater, error) {
	if cfg.Target == 0 {
		cfg.Target = DefaultDebloatTarget
	}
	if cfg.MinBatch == 0 {
		cfg.MinBatch = DefaultMinBatch
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Samples == 0 {
		cfg.Samples = DefaultDebloatSamples
	}
	switch {
	case cfg.Threshold == 0:
		cfg.Threshold = DefaultDebloatThreshold
	case cfg.Threshold < 0:
		cfg.Threshold = 0
	}
	switch {
	case cfg.Target < 0:
		return nil, fmt.Errorf("flowcontrol: NewDebloater: target %v is negative: %w", cfg.Target, ErrInvalidParameter)
	case cfg.MinBatch < 1 || cfg.MaxBatch < cfg.MinBatch:
		return nil, fmt.Errorf("flowcontrol: NewDebloater: batch bounds [%d, %d] are not 1 <= min <= max: %w", cfg.MinBatch, cfg.MaxBatch, ErrInvalidParameter)
	case cfg.Samples < 1:
		return nil, fmt.Errorf("flowcontrol: NewDebloater: %d samples, need at least 1: %w", cfg.Samples, ErrInvalidParameter)
	case !(cfg.Threshold < 1):
		return nil, fmt.Errorf("flowcontrol: NewDebloater: threshold %v, need less than 1: %w", cfg.Threshold, ErrInvalidParameter)
	}
	return &Debloater{
		target:    cfg.Target.Seconds(),
		min:       cfg.MinBatch,
		max:       cfg.MaxBatch,
		alpha:     2 / float64(cfg.Samples+1),
		threshold: cfg.Threshold,
		size:      cfg.MaxBatch,
	}, nil
}

// Observe records that records were consumed since the previous call, at
// time now, with inFlight buffers in flight (GateStats.InFlight, or the
// credits handed out), and returns the suggested batch size. Call it at a
// steady period (Flink uses 200 ms) from one goroutine. The first call only
// starts the clock; a call at the same instant as the previous one, or
// earlier, adds its records to the next sample.
func (d *Debloater) Observe(now time.Time, records int, inFlight int) int {
	if records > 0 {
		d.pending += float64(records)
	}
	if !d.started {
		d.started = true
		d.last = now
		d.pending = 0 // consumed before the clock started: no rate
		return d.size
	}
	dt := now.Sub(d.last).Seconds()
	if dt <= 0 {
		return d.size
	}
	sample := d.pending / dt
	d.pending = 0
	d.last = now
	if d.sampled {
		d.rate += d.alpha * (sample - d.rate)
	} else {
		d.rate = sample
		d.sampled = true
	}
	if inFlight < 1 {
		inFlight = 1
	}
	want := d.clamp(d.rate * d.target / float64(inFlight))
	if math.Abs(float64(want-d.size)) >= d.threshold*float64(d.size) || want == d.min || want == d.max {
		d.size = want
	}
	return d.size
}

func (d *Debloater) clamp(x float64) int {
	switch {
	case x <= float64(d.min):
		return d.min
	case x >= float64(d.max):
		return d.max
	}
	return int(math.Round(x))
}

// BatchSize returns the current suggestion.
func (d *Debloater) BatchSize() int { return d.size }

// Throughput returns the smoothed throughput in records per second, 0
// before the second observation.
func (d *Debloater) Throughput() float64 { return d.rate }
