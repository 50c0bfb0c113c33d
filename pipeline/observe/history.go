package observe

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
)

// Point is one tick of the history: what the page's charts draw over time.
// It is a plain value, as are StagePoint and Band.
type Point struct {
	Time time.Time `json:"t"`
	// RecordsPerSec is what the sources produced, before shedding.
	RecordsPerSec float64      `json:"records_per_second"`
	Stages        []StagePoint `json:"stages"`
	// Shedding, when a shedder is in front: the keep probability in force
	// and the records shed per second and as a fraction of those seen.
	KeepP        float64 `json:"keep_probability"`
	ShedPerSec   float64 `json:"shed_per_second"`
	ShedFraction float64 `json:"shed_fraction"`
	// SinceLastRecord is Snapshot.SinceLastRecord.
	SinceLastRecord float64 `json:"since_last_record_seconds"`
	// Bands are the estimates with bounds found in the answer.
	Bands []Band `json:"bands,omitempty"`
}

// StagePoint is one stage's instances summed (rates) or at their worst
// (shares).
type StagePoint struct {
	Stage              string  `json:"stage"`
	InPerSec           float64 `json:"in_per_second"`
	OutPerSec          float64 `json:"out_per_second"`
	BusyShare          float64 `json:"busy_share"`
	BackPressuredShare float64 `json:"backpressured_share"`
}

// Band is an estimate with its bounds, named by where the answer holds it
// ("distinct", "users.distinct", "mean").
type Band struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// History is a ring of the last points. The zero value keeps nothing; make
// one with NewHistory. It is safe for concurrent use.
type History struct {
	mu   sync.Mutex
	ring []Point
	next int
	full bool
}

// NewHistory returns a History of the last n points.
func NewHistory(n int) *History { return &History{ring: make([]Point, max(n, 0))} }

func (h *History) add(p Point) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ring) == 0 {
		return
	}
	h.ring[h.next] = p
	h.next++
	if h.next == len(h.ring) {
		h.next, h.full = 0, true
	}
}

// Points returns the points kept, oldest first.
func (h *History) Points() []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full {
		return slices.Clone(h.ring[:h.next])
	}
	return append(slices.Clone(h.ring[h.next:]), h.ring[:h.next]...)
}

// pointOf summarizes s; answer is s.Answer as JSON, for the bands.
func pointOf(s *Snapshot, answer json.RawMessage) Point {
	p := Point{Time: s.Time, RecordsPerSec: s.RecordsPerSec, SinceLastRecord: s.SinceLastRecord, KeepP: 1}
	for _, st := range s.Stages {
		i := slices.IndexFunc(p.Stages, func(q StagePoint) bool { return q.Stage == st.Stage })
		if i < 0 {
			p.Stages = append(p.Stages, StagePoint{Stage: st.Stage})
			i = len(p.Stages) - 1
		}
		q := &p.Stages[i]
		q.InPerSec += st.InPerSec
		q.OutPerSec += st.OutPerSec
		q.BusyShare = max(q.BusyShare, st.BusyShare)
		q.BackPressuredShare = max(q.BackPressuredShare, st.BackPressuredShare)
	}
	if sh := s.Shedding; sh != nil {
		p.KeepP, p.ShedPerSec, p.ShedFraction = sh.KeepP, sh.ShedPerSec, sh.WindowFraction
	}
	p.Bands = bands(answer, "", 2, nil)
	return p
}

// bandFields are the spellings of an estimate with bounds in the JSON
// answers: the CLI's distinct and dedup ({distinct, lower, upper}), stats'
// mean, and a sketch.Estimate ({value, lower, upper}).
var bandFields = []struct{ name, value, lower, upper string }{
	{"distinct", "distinct", "lower", "upper"},
	{"mean", "mean", "mean_lower", "mean_upper"},
	{"value", "value", "lower", "upper"},
}

// bands finds the estimates with bounds in a JSON object and, depth levels
// down, in the objects it holds (a fanned-out job's answer per branch), in
// the order of their names.
func bands(raw json.RawMessage, prefix string, depth int, out []Band) []Band {
	nums := map[string]float64{}
	type sub struct {
		key        string
		start, end int
	}
	var subs []sub
	if _, ok := scanObject(raw, 0,
		func(k string, v float64) { nums[k] = v },
		func(k string, start, end int) { subs = append(subs, sub{k, start, end}) }); !ok {
		return out
	}
	for _, f := range bandFields {
		v, ok1 := nums[f.value]
		lo, ok2 := nums[f.lower]
		hi, ok3 := nums[f.upper]
		if ok1 && ok2 && ok3 {
			name := f.name
			if prefix != "" {
				name = prefix + "." + name
			}
			out = append(out, Band{Name: name, Value: v, Lower: lo, Upper: hi})
		}
	}
	if depth > 1 {
		slices.SortFunc(subs, func(a, b sub) int { return strings.Compare(a.key, b.key) })
		for _, s := range subs {
			name := s.key
			if prefix != "" {
				name = prefix + "." + s.key
			}
			out = bands(raw[s.start:s.end], name, depth-1, out)
		}
	}
	return out
}
