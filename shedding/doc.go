// Package shedding drops records at a pipeline's ingress when input
// outruns capacity, and provides the estimators that scale what was kept
// back up to what arrived, with bounds that include the sampling error.
//
// # Shedders
//
// A Shedder is a pipeline.Shedder: give each source one through a Group
// (pipeline.Config{NewShedder: group.NewShedder}). At every batch it asks
// its Controller for the keep probability p and drops records by a Policy:
//
//   - Random keeps each record with probability p, independently
//     (KeepRandom): the right policy for counts, frequencies, heavy
//     hitters and samples, all unbiased once scaled by 1/p.
//   - KeyHash keeps the records whose key hash is below p·2^64 (KeepKey):
//     whole keys, the same in every process and after every restart; the
//     right policy for distinct counts (HLLDistinct, ThetaDistinct) and
//     membership.
//   - Priority keeps the records a user function scores highest, at a
//     threshold that tracks the (1-p)-quantile of recent scores; it favours
//     useful records and gives up unbiased estimates (see Priority).
//
// Kept records carry Record.KeepP = p: each stands for 1/p records
// (Record.Weight). p always lies on a grid of multiples of 2^-16 (see
// Quantize), on which KeepP, p and the key-hash threshold agree exactly.
//
// # Controller
//
// The Controller sheds nothing until the queueing delay would exceed its
// latency target (ControllerConfig.MaxLatency): the time records have
// waited in front of the source, behind on its input, plus the time the
// measured capacity takes to drain the channel. A burst that drains within
// the target is not overload. It then admits the capacity, with a
// proportional correction that holds the queue behind the shedder near a
// small setpoint (Kalyvianaki et al., FeBID 2012), as long as the arrival
// rate exceeds the capacity (Aurora, Tatbul et al., VLDB 2003), so the
// latency stays bounded and the fraction shed is close to the least
// possible, 1 - capacity/arrival. p moves smoothly and returns to 1 when
// the load drops. A source that waits for its input (Pressure.InputWait)
// keeps up with it, however full its batches, and is not overloaded. A
// trial of shedding that does not make the source take records faster,
// or, with the process's CPU time in view (ControllerConfig.CPU), makes
// each record cost more CPU, is futile: p returns to 1 for a while. Time
// is passed in, never read, and the CPU time through a function of the
// caller's, so tests run both on fake clocks. The control law is in
// Controller's documentation.
//
// The controller needs the channel's Pressure: a pipeline with a shedder
// puts its first operator behind a channel (and, while nothing is shed,
// runs it in the source's goroutine, as if chained, at no cost: see
// pipeline.Config.NewShedder). Without a channel in view, set
// ControllerConfig.Capacity.
//
// # Determinism and replay
//
// A decision is a pure function of the record's hash, its position among
// the records the shedder was offered, its score (Priority) and the p in
// force. The Shedder's state (MarshalBinary, in the streamstat envelope of
// kind ShedState: p, the controller's estimates, the position, the epoch
// log, the priority window) is what a checkpoint stores, so that a
// shedder restored at a position sheds the records offered again as the
// original would at the same p. The epoch log (Epochs) records each change
// of p by position, and Replay makes a shedder follow a logged schedule
// instead of its controller, which reproduces a run's decisions exactly
// whatever the timing.
//
// # Estimates
//
// Every result states how much was shed: Summary (per Shedder, or summed by
// a Group) has the records seen, kept and shed, and the smallest and mean
// p.
//
//   - Counts: WeightedCount is the Horvitz–Thompson estimate sum(1/p) with
//     its variance and gamma bounds that hold as p changes over time; tell
//     it what was shed (AddShed, e.g. with the Group's Summary().Shed and
//     MinP) and it is never exact once anything was. Integer sketches
//     (CountMin, TopK) count a kept record as Units(p) = Unit/p in fixed
//     point; FromUnits reads their answers back in records, and Widen
//     widens their bounds by the sampling variance (Summary.CountVariance
//     for a key's count).
//   - Distinct counts under KeyHash shedding: HLLDistinct reads a plain
//     sketch.HLL fed the kept keys, from its registers below the smallest
//     p ever in force, which saw every key that maps to them (an HLL's
//     register index is the hash's top bits): no cost per record over an
//     HLL without shedding, an error of about 1.04/sqrt(minP·m). Or
//     ThetaDistinct, a theta sketch whose threshold is the smallest p (and
//     the KMV threshold once full): about 1/sqrt(k) however low p went, at
//     2-3 ns a record more than an HLL. Both stay unbiased as p changes
//     over time. DistinctHLL is the HLL's operator, and merges, so it
//     also counts the windows of a pipeline.Window.
//   - Samples: AddSample offers a kept record to a
//     sampling.WeightedReservoir with weight 1/p, which keeps the sample
//     fair across periods shed at different p.
//
// The bounds are tested for coverage: over thousands of trials at p = 0.1,
// 0.3 and 0.5 the truth falls inside the 95% bounds in 92.5% to 97.5% of
// them, and the estimates are unbiased to within 1%; HLLDistinct's over a
// grid of minP from 1 to 2^-16 and n from 1 to 100·m, at 93% or more, and
// per window of a pipeline.Window of DistinctHLLs shed at p down to 2^-10.
//
// # Concurrency
//
// A Shedder is called by one source goroutine; its Summary, Epochs and
// MarshalBinary may be called from any goroutine meanwhile. Controller,
// WeightedCount and ThetaDistinct are not safe for concurrent use.
package shedding
