package shedding

import (
	"math"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/pipeline"
)

// plant simulates, in fake time, a source feeding a shedder and a credit
// channel of Buffers batches drained by a receiver of fixed capacity: the
// fluid model the Controller is built for. Each step of Step the source
// pulls every record due (if it has a credit; else it is back-pressured
// for the step and the records wait in it), sheds them as one batch and
// sends what it kept; the receiver takes Capacity records per second from
// the head of the queue.
type plant struct {
	t        *testing.T
	shed     pipeline.Shedder
	Step     time.Duration
	Buffers  int
	Capacity float64 // records/s
	NoPress  bool    // hide the channel (a zero Pressure)
	MaxBatch int     // records pulled per step at most, as pipeline.Config.BatchSize
	// Gather sends the kept records in batches of MaxBatch, as a
	// pipeline source does (or after pipeline.ShedHold), not one batch
	// per shed batch.
	Gather bool
	// NoCount hides the batch counts from the Pressure (Batches,
	// AtReceiver), as a Pressure made by hand does.
	NoCount bool

	// CPU, if set, makes source and receiver share one CPU instead of
	// the receiver having Capacity: each step's time goes first to the
	// source, SourceCost per record offered (plus ShedCost while p < 1:
	// shedding's own work), then to the receiver, OpCost per record (times
	// OpShedFactor while p < 1: a kept record weighted 1/p costs more).
	CPU                                        bool
	SourceCost, ShedCost, OpCost, OpShedFactor float64 // seconds per record
	sh                                         *Shedder
	debt                                       float64 // CPU seconds the source owes

	hold     int       // records kept and not yet sent (Gather)
	holdFrom time.Time // when the oldest of them was due
	holdAt   time.Time // when it was kept
	batches  uint64

	now     time.Time
	due     float64 // records due at the source, not yet pulled (fractional)
	dueFrom time.Time
	queue   []simBatch
	work    float64 // records of capacity carried over
	sent    uint64
	bp      time.Duration
	next    uint64 // hash counter

	// per-run measurements
	Offered, Kept, Processed uint64
	MaxLatency               time.Duration
	b                        pipeline.Batch
}

type simBatch struct {
	n   int
	gen time.Time // when its oldest record was due
}

func newPlant(t *testing.T, s *Shedder, capacity float64) *plant {
	return &plant{t: t, shed: s, sh: s, Step: time.Millisecond, Buffers: 10, Capacity: capacity, MaxBatch: pipeline.DefaultBatchSize,
		now: time.Unix(1_700_000_000, 0)}
}

func (pl *plant) pressure() pipeline.Pressure {
	if pl.NoPress {
		return pipeline.Pressure{}
	}
	pr := pipeline.Pressure{
		Credits: pl.Buffers - len(pl.queue), Backlog: max(len(pl.queue)-1, 0), InFlight: len(pl.queue),
		Buffers: pl.Buffers, BackPressured: pl.bp, Records: pl.sent,
	}
	if !pl.NoCount {
		pr.Batches, pr.AtReceiver = pl.batches, min(len(pl.queue), 1)
	}
	return pr
}

// send queues a batch of n records, the oldest due at gen.
func (pl *plant) send(n int, gen time.Time) {
	pl.queue = append(pl.queue, simBatch{n, gen})
	pl.sent += uint64(n)
	pl.batches++
}

// run runs the plant for d at arrival rate lambda and resets the
// measurements first.
func (pl *plant) run(d time.Duration, lambda float64) {
	pl.Offered, pl.Kept, pl.Processed, pl.MaxLatency = 0, 0, 0, 0
	for end := pl.now.Add(d); pl.now.Before(end); {
		pl.now = pl.now.Add(pl.Step)
		if pl.due < 1 {
			pl.dueFrom = pl.now
		}
		pl.due += lambda * pl.Step.Seconds()
		// The source pulls batches while records are due and it has
		// credit; without credit it waits (back-pressure) for the step.
		budget := pl.Step.Seconds()
		if pl.CPU { // the time the last batch pulled took beyond its step
			pay := min(pl.debt, budget)
			pl.debt -= pay
			budget -= pay
		}
		shedding := pl.sh != nil && pl.sh.P() < 1
		for pl.due >= 1 && (len(pl.queue) < pl.Buffers || pl.NoPress) {
			n := min(int(pl.due), pl.MaxBatch)
			if pl.CPU {
				c := pl.SourceCost
				if shedding {
					c += pl.ShedCost
				}
				if budget <= 0 {
					break
				}
				// A full batch, its time beyond this step owed by the next.
				if budget -= float64(n) * c; budget < 0 {
					pl.debt, budget = -budget, 0
				}
			}
			pl.due -= float64(n)
			pl.b.Reset()
			for range n {
				pl.next++
				pl.b.AddHashed(nil, hashmix.SplitMix64(pl.next))
			}
			pl.shed.Shed(&pl.b, pl.now, pl.pressure())
			pl.Offered += uint64(n)
			if k := pl.b.Len(); k > 0 {
				pl.Kept += uint64(k)
				if !pl.Gather {
					pl.send(k, pl.dueFrom)
				} else {
					if pl.hold == 0 {
						pl.holdFrom, pl.holdAt = pl.dueFrom, pl.now
					}
					pl.hold += k
					for pl.hold >= pl.MaxBatch && len(pl.queue) < pl.Buffers {
						pl.send(pl.MaxBatch, pl.holdFrom)
						pl.hold -= pl.MaxBatch
						pl.holdFrom, pl.holdAt = pl.dueFrom, pl.now
					}
				}
			}
			if pl.due < 1 {
				pl.dueFrom = pl.now
			}
		}
		if pl.Gather && pl.hold > 0 && pl.now.Sub(pl.holdAt) >= pipeline.ShedHold && len(pl.queue) < pl.Buffers {
			pl.send(pl.hold, pl.holdFrom)
			pl.hold = 0
		}
		if pl.due >= 1 && (len(pl.queue) >= pl.Buffers || !pl.CPU) {
			pl.bp += pl.Step
		}
		if pl.CPU {
			c := pl.OpCost
			if shedding {
				c *= pl.OpShedFactor
			}
			pl.work += budget / c
		} else {
			pl.work += pl.Capacity * pl.Step.Seconds()
		}
		for len(pl.queue) > 0 && pl.work >= 1 {
			b := &pl.queue[0]
			take := min(b.n, int(pl.work))
			b.n -= take
			pl.work -= float64(take)
			pl.Processed += uint64(take)
			if lat := pl.now.Sub(b.gen); lat > pl.MaxLatency {
				pl.MaxLatency = lat
			}
			if b.n == 0 {
				pl.queue = pl.queue[1:]
			}
		}
		if len(pl.queue) == 0 {
			pl.work = math.Min(pl.work, 1) // an idle receiver banks no capacity
		}
	}
}
