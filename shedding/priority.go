package shedding

import (
	"math"

	"github.com/streamstat/streamstat/internal/quickselect"
)

// Priority window limits and default.
const (
	DefaultWindow = 1024
	MinWindow     = 16
	MaxWindow     = 1 << 20
)

// priority is the state of Priority shedding: a keep threshold that is a
// quantile of the recent scores.
//
// The records kept at p are those scoring above tau, the (1-p)-quantile of
// the last Window scores (those of the records offered, whatever was
// kept), plus a fraction of those scoring exactly tau, chosen by the
// record's remixed hash so that the kept fraction is p even when scores
// take few values. The window is snapshot every Window/4 records (and at
// 1, 3, 7, 15, ... records while it first fills), and tau selected from
// the snapshot (Hoare's FIND, linear time) whenever p changes, by
// position, so thresholds depend on the scores and the p of each record,
// never on how the records were cut into batches: a replay decides alike.
// Between snapshots the threshold lags the newest scores by at most a
// quarter window.
//
// Horvitz–Thompson weighting does not apply: see Priority.
type priority struct {
	ring    []float64 // the last len(ring) scores, oldest at pos once full
	pos     int
	m       int       // scores in ring
	snap    []float64 // the window as of the last snapshot, oldest first
	since   int       // scores added since the last snapshot
	scratch []float64 // for selection; not state

	p      float64 // p of the cached threshold; 0: none
	tau    float64
	tie    uint64 // keep a score equal to tau iff remix < tie ...
	tieAll bool   // ... or always
}

func (q *priority) init(window int) {
	q.ring = make([]float64, window)
	q.snap = make([]float64, 0, window)
	q.scratch = make([]float64, 0, window)
}

// keep records score sc and decides on its record at p.
func (q *priority) keep(sc, p float64, h, seq, mixedSalt uint64) bool {
	if math.IsNaN(sc) {
		sc = math.Inf(-1)
	}
	q.ring[q.pos] = sc
	q.pos++
	if q.pos == len(q.ring) {
		q.pos = 0
	}
	q.m = min(q.m+1, len(q.ring))
	q.since++
	// Snapshot every quarter window, and while the window fills whenever
	// it has doubled since the last snapshot.
	if q.since >= len(q.ring)/4 || 2*len(q.snap) < q.m {
		q.snapshot()
	}
	if p >= 1 {
		return true
	}
	if p != q.p {
		q.threshold(p)
	}
	switch {
	case sc > q.tau:
		return true
	case sc < q.tau:
		return false
	}
	return q.tieAll || remix(h, seq, mixedSalt) < q.tie
}

// snapshot copies the window, oldest first, into snap.
func (q *priority) snapshot() {
	if q.m < len(q.ring) {
		q.snap = append(q.snap[:0], q.ring[:q.m]...)
	} else {
		q.snap = append(append(q.snap[:0], q.ring[q.pos:]...), q.ring[:q.pos]...)
	}
	q.since, q.p = 0, 0
}

// threshold sets tau and the tie fraction for p < 1: tau is the score of
// rank floor((1-p)·n) among the n of the snapshot.
func (q *priority) threshold(p float64) {
	q.p = p
	n := len(q.snap)
	if n == 0 {
		q.tau, q.tieAll = math.Inf(-1), true // nothing known: keep all
		return
	}
	q.scratch = append(q.scratch[:0], q.snap...)
	q.tau = quickselect.Select(q.scratch, min(int((1-p)*float64(n)), n-1))
	above, equal := 0, 0
	for _, v := range q.snap {
		if v > q.tau {
			above++
		} else if v == q.tau {
			equal++
		}
	}
	// Keep all above tau and this fraction of those equal to it.
	phi := (p*float64(n) - float64(above)) / float64(equal)
	q.tieAll = phi >= 1
	q.tie = threshold(min(max(phi, 0), 1))
}
