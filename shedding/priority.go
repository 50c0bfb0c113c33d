package shedding

import (
	"math"
	"slices"
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
// take few values. The window is sorted anew every Window/4 records, by
// position, so thresholds depend on the scores and the p of each record,
// never on how the records were cut into batches: a replay decides alike.
// Between sorts the threshold lags the newest scores by at most a quarter
// window.
//
// # Horvitz–Thompson and priority shedding
//
// A record's inclusion here is decided by its score, not by chance: a
// low-scoring record has inclusion probability 0, so no weighting makes a
// per-record or per-key estimate unbiased, and KeepP (= p, the fraction
// kept) is only the right weight for quantities unrelated to the score.
// The count of all records, sum(1/p), is right to within the window's
// quantile error, since a fraction p is kept at each p; a count of the
// records of a key, or a sum of values, is biased toward what scores high.
// Use Priority when the high-utility records themselves are the answer
// (alerts, errors, slow requests), and Random or KeyHash when estimates
// must be unbiased.
type priority struct {
	ring   []float64 // the last len(ring) scores, oldest at pos once full
	pos    int
	m      int       // scores in ring
	sorted []float64 // the window as of the last sort, ascending
	since  int       // scores added since the last sort

	p      float64 // p of the cached threshold; 0: none
	tau    float64
	tie    uint64 // keep a score equal to tau iff remix < tie ...
	tieAll bool   // ... or always
}

func (q *priority) init(window int) {
	q.ring = make([]float64, window)
	q.sorted = make([]float64, 0, window)
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
	// Sort every quarter window, and more often while the window fills.
	if q.since >= len(q.ring)/4 || q.since >= 16 && len(q.sorted) < q.m/2 {
		q.resort()
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

// resort copies the window into sorted.
func (q *priority) resort() {
	q.sorted = append(q.sorted[:0], q.ring[:q.m]...)
	slices.Sort(q.sorted)
	q.since, q.p = 0, 0
}

// threshold sets tau and the tie fraction for p < 1.
func (q *priority) threshold(p float64) {
	q.p = p
	n := len(q.sorted)
	if n == 0 {
		q.tau, q.tieAll = math.Inf(-1), true // nothing known: keep all
		return
	}
	i := min(int((1-p)*float64(n)), n-1)
	q.tau = q.sorted[i]
	lo, hi := i, i+1 // the run of scores equal to tau
	for lo > 0 && q.sorted[lo-1] == q.tau {
		lo--
	}
	hi += searchAbove(q.sorted[hi:], q.tau)
	above, equal := n-hi, hi-lo
	// Keep all above tau and this fraction of those equal to it.
	phi := (p*float64(n) - float64(above)) / float64(equal)
	q.tieAll = phi >= 1
	q.tie = threshold(min(max(phi, 0), 1))
}

// searchAbove returns the index of the first element of the ascending a
// above x.
func searchAbove(a []float64, x float64) int {
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
