package shedding

import "sync/atomic"

// The Controller's futility check (see futile): whether a trial of
// shedding made the source take its records faster, and, with the
// process's CPU time in view (ControllerConfig.CPU), at no more CPU per
// record.

// Futility of shedding: a trial is this many ticks of shedding with the
// source behind its input. Few: while futile, a trial costs what shedding
// does (weighted counts at a p that changes every tick cost a TopK about
// twice what unit counts do, and gathering copies the records kept), and
// 3 ticks tell the gain it looks for (at least a quarter of 1/p - 1)
// where it matters: the deeper the overload, the larger the gain, and a
// mild one mistaken for futile grows the queue little during a hold.
// After a futile one, shedding stops for holdMin ticks, four times longer
// after each futile trial in a row up to holdMax. holdMin is 2 s at the
// default Interval: a source faster than its operator (a file piped in)
// makes the controller try shedding every hold, and with a hold of 0.5 s
// the trials (4 to 6 ticks of shedding each, behind the channel) made
// top --shed cost 13% more CPU than top on a 20M-line file piped in (6%
// with 2 s, 3% with no trial at all).
const (
	trialTicks = 3
	holdMin    = 200
	holdMax    = 6400
)

// cpuSlack is how much more CPU per record than at p = 1 a trial of
// shedding may cost (ControllerConfig.CPU) and still not be futile: the
// cost per record of ticks at p = 1 varies by a few percent.
const cpuSlack = 0.05

// cpuClear is how much more CPU per record than at p = 1 ends a trial of
// shedding after its first tick: a file piped into top --shed cost 40-80%
// more in its trials.
const cpuClear = 0.3

// cpuBusy is the number of cores the process must have used at p = 1 for
// the CPU cost per record to count (see ControllerConfig.CPU): a job
// reading a file piped in used 1.7-1.9 of 2 cores (0.5-0.9 while other
// processes kept the machine busy), one whose operator sleeps 5 µs a
// record 0.03-0.05.
const cpuBusy = 0.25

// cpuMeter counts the records offered to the controllers that share it
// (a Group's), for the CPU cost per record of ControllerConfig.CPU.
//
// A trial found futile by its CPU cost ends the trials of the others
// too (verdicts counts those): the cost per record is the whole process's,
// so theirs would find the same.
type cpuMeter struct{ offered, verdicts atomic.Uint64 }

// cpuPerRecord returns the CPU time the process used per record offered
// to the meter's controllers since the last tick closed, in ns, or 0 if
// not known (no ControllerConfig.CPU, the first tick, no record).
// The cores the process used over a tick of dt seconds at p = 1 go into
// cpuCores.
func (c *Controller) cpuPerRecord(dt float64) float64 {
	if c.cfg.CPU == nil {
		return 0
	}
	st := &c.st
	// The tick's records go into the shared count at its close, not at
	// every batch: the workers' adds to one counter made its cache line
	// travel between cores, half a percent of top --shed's CPU.
	n := c.cfg.meter.offered.Add(st.offered)
	cpu := uint64(max(c.cfg.CPU(), 0))
	cpr := 0.0
	if st.cpu0 > 0 && n > st.cpuN0 && cpu >= st.cpu0 {
		cpr = float64(cpu-st.cpu0) / float64(n-st.cpuN0)
		if st.p >= 1 {
			ewma(&st.cpuCores, float64(cpu-st.cpu0)/1e9/dt, dt, 3*c.cfg.Interval.Seconds())
		}
	}
	st.cpu0, st.cpuN0 = cpu, n
	return cpr
}

// futile closes a tick for the futility check and reports whether
// shedding has proved not to raise throughput. Shedding is worth its
// error only if the records the source could not take in time are taken
// sooner: while the source is behind its input (records wait in front of
// it), the rate it takes them at must rise as p falls. If the operator is
// the bottleneck, shedding down to p multiplies that rate by about 1/p;
// if the source itself is (it competes with the operator for the CPU, or
// counting a shed record, weighted 1/p, costs more than a plain one), it
// does not rise, and shedding would only make the job lose records and
// run no faster, or slower. At p = 1 a source behind its input takes
// records at the rate the receiver processes them, the base (measured
// like mu, in saturated ticks, but with a time constant of 3 Intervals,
// not 20: what the receiver takes now); under shedding the rate it takes
// them at is measured over a trial of trialTicks ticks behind (ticks in
// which it keeps up say nothing: shedding does its work), once the queue
// that stood when shedding started has drained. A trial that gains less
// than a quarter of 1/p̄ - 1 over the base (p̄ its mean p), and less than
// 10% (the base, learnt under other loads, is rough), or more than 4/p̄
// (more than dropping records can give: the base was measured while the
// process was starved of CPU), is futile: p goes
// back to 1 at once, and shedding stays off for a hold of holdMin ticks,
// four times longer after each futile trial in a row (up to holdMax),
// while the base is measured again. A trial that gains resets the hold, and the
// next trial starts.
func (c *Controller) futile(behind bool, rate, queue, dt, cpr float64) bool {
	st, iv := &c.st, c.cfg.Interval.Seconds()
	if st.hold > 0 {
		st.hold--
	}
	m := c.cfg.meter
	if st.p >= 1 {
		if cpr > 0 {
			ewma(&st.cpuBase, cpr, dt, 3*iv)
		}
		if m != nil {
			st.verdicts = m.verdicts.Load() // for trials still to come
		}
		st.cpuSum, st.cpuN = 0, 0
		st.trial, st.trialP, st.trialN = 0, 0, 0
		// The batches queued when shedding starts were kept at p = 1:
		// until they drain, credit comes back at their pace, and the rate
		// says nothing of shedding. Wait that long, and a tick more.
		st.trialWait = 1
		if st.mu > 0 {
			st.trialWait += int(min(queue/st.mu/iv, holdMax))
		}
		return false
	}
	if m != nil {
		if v := m.verdicts.Load(); v != st.verdicts {
			// Another controller's trial found shedding dearer per
			// record, over the same process.
			st.verdicts = v
			return c.endTrial()
		}
	}
	if st.trialWait > 0 {
		st.trialWait--
		return false
	}
	if !behind || st.base == 0 {
		return false
	}
	ewma(&st.trial, rate, dt, 3*iv)
	st.trialP += st.p
	st.trialN++
	if cpr > 0 {
		st.cpuSum += cpr
		st.cpuN++
	}
	// Each record cost more CPU than at p = 1: the rate was taken from
	// the other goroutines, if it rose. Far more (cpuClear) ends the
	// trial at once: a trial costs what shedding does.
	costlier := func(slack float64) bool {
		return st.cpuN > 0 && st.cpuBase > 0 && st.cpuCores >= cpuBusy &&
			st.cpuSum/float64(st.cpuN) > (1+slack)*st.cpuBase
	}
	if st.trialN < trialTicks && !costlier(cpuClear) {
		return false
	}
	pm := st.trialP / float64(st.trialN)
	gain := st.trial / st.base
	dearer := costlier(cpuSlack)
	// A gain of more than four times what dropping records could give
	// (1/p̄; bursts that overload make up to 2.4 times) says the base was
	// measured while the process waited for a CPU (on a machine kept busy
	// by others: gains of 5-300 were seen), not that shedding helped.
	useful := st.trialN >= trialTicks && gain >= min(1+(1/pm-1)/4, 1.1) && gain <= 4/pm && !dearer
	st.trial, st.trialP, st.trialN, st.cpuSum, st.cpuN = 0, 0, 0, 0, 0
	if useful {
		st.holdLen = 0
		return false
	}
	if dearer {
		st.verdicts = m.verdicts.Add(1)
	}
	return c.endTrial()
}

// endTrial ends a futile trial: a hold of holdMin ticks, four times
// longer after each futile trial in a row.
func (c *Controller) endTrial() bool {
	st := &c.st
	st.trial, st.trialP, st.trialN, st.cpuSum, st.cpuN = 0, 0, 0, 0, 0
	st.holdLen = min(max(4*st.holdLen, holdMin), holdMax)
	st.hold = st.holdLen
	st.base = 0 // measured again, at p = 1
	return true
}
