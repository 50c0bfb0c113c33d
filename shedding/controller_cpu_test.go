package shedding

import (
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/pipeline"
)

// cpuWorker simulates, on a fake clock, a worker always behind its input
// (a file piped in) with its operator inline, in a process whose CPU time
// a fake CPU clock tells (ControllerConfig.CPU). A batch costs Read of
// CPU to read, Op times the fraction kept to count, and Shed more while
// p < 1 (the channel, gathering, weighted counts); it takes that CPU time
// divided by Share of wall time at p = 1 and by ShareShed under shedding:
// the share of a core the worker gets, which under shedding it takes from
// the job's other goroutines. Sleep adds wall time to every batch's count,
// spent off the CPU (an operator waiting on I/O).
type cpuWorker struct {
	Batch                   int
	Read, Op, Shed, Sleep   time.Duration
	Share, ShareShed        float64
	now                     time.Time
	cpu                     time.Duration
	pr                      pipeline.Pressure
	b                       pipeline.Batch
	next                    uint64
	offered, kept           uint64
	wall                    time.Duration
	cpuAt1, wallAt1         time.Duration // spent at p = 1
	cpuShed, wallShed       time.Duration // spent at p < 1
	offeredAt1, offeredShed uint64
}

func (w *cpuWorker) clock() time.Duration { return w.cpu }

func (w *cpuWorker) run(sh *Shedder, d time.Duration) {
	if w.now.IsZero() {
		w.now = t0
		w.pr.Buffers = 10
	}
	for end := w.now.Add(d); w.now.Before(end); {
		shedding := sh.P() < 1
		w.b.Reset()
		for range w.Batch {
			w.next++
			w.b.AddHashed(nil, hashmix.SplitMix64(w.next))
		}
		sh.Shed(&w.b, w.now, w.pr)
		k := w.b.Len()
		cpu := w.Read + time.Duration(float64(w.Op)*float64(k)/float64(w.Batch))
		share := w.Share
		if shedding {
			cpu += w.Shed
			share = w.ShareShed
		}
		op := time.Duration(float64(w.Sleep) * float64(k) / float64(w.Batch))
		wall := time.Duration(float64(cpu)/share) + op
		w.now = w.now.Add(wall)
		w.cpu += cpu
		w.pr.BackPressured += wall / 2
		w.pr.Records += uint64(k)
		w.pr.Batches++
		if shedding {
			w.cpuShed, w.wallShed, w.offeredShed = w.cpuShed+cpu, w.wallShed+wall, w.offeredShed+uint64(w.Batch)
		} else {
			w.cpuAt1, w.wallAt1, w.offeredAt1 = w.cpuAt1+cpu, w.wallAt1+wall, w.offeredAt1+uint64(w.Batch)
		}
	}
}

// TestControllerFutileCPU: a worker that, once shedding, takes records
// faster only by taking the CPU from the job's other goroutines, each
// record costing it more CPU than at p = 1 (the channel in front of the
// operator, gathering, weighted counts), has not made the job faster: with
// the process's CPU time in view (ControllerConfig.CPU) its trial of
// shedding is futile and it sheds hardly anything; without it, the rate
// alone looked like a gain, and it shed much more (a file piped into top
// --shed on a busy machine: trials that read 1.5-4x faster at 1.4-3x the
// CPU per record shed 2-12% of the records). A worker whose operator waits
// off the CPU (a job using a few hundredths of a core) gets its backlog
// through sooner by shedding however much CPU a record costs: it sheds
// with the CPU in view as without.
func TestControllerFutileCPU(t *testing.T) {
	busy := func() *cpuWorker {
		return &cpuWorker{Batch: 1024, Read: 15 * time.Microsecond, Op: 30 * time.Microsecond, Shed: 25 * time.Microsecond,
			Share: 0.5, ShareShed: 1}
	}
	// A process the machine's other processes left a fiftieth of a core
	// at p = 1 (too little for its CPU cost per record to count), and all
	// of one in the trial: the trial's rate, 50 times the base's, is more
	// than dropping a fifth of the records could give. (Its one trial
	// still sheds a tenth of the records: they come 50 times faster in
	// it. Taken for a gain, the rate made it shed 94%.)
	starved := func() *cpuWorker {
		return &cpuWorker{Batch: 1024, Read: 15 * time.Microsecond, Op: 30 * time.Microsecond, Shed: 25 * time.Microsecond,
			Share: 0.02, ShareShed: 1}
	}
	sleepy := func() *cpuWorker {
		return &cpuWorker{Batch: 1024, Read: 15 * time.Microsecond, Shed: 25 * time.Microsecond,
			Sleep: 5 * time.Millisecond, Share: 1, ShareShed: 1}
	}
	for _, tc := range []struct {
		name             string
		w                func() *cpuWorker
		cpu              bool
		minShed, maxShed float64
	}{
		{"CPU-bound, CPU in view", busy, true, 0, 0.02},
		{"CPU-bound, rate alone", busy, false, 0.1, 1},
		{"starved of CPU at p = 1", starved, true, 0, 0.2},
		{"operator off the CPU, CPU in view", sleepy, true, 0.3, 1},
		{"operator off the CPU, rate alone", sleepy, false, 0.3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w()
			cfg := Config{Policy: Random}
			if tc.cpu {
				cfg.Controller.CPU = w.clock
			}
			sh := newTestShedder(t, cfg)
			w.run(sh, 3*time.Second)
			s := sh.Summary()
			t.Logf("shed %.3f; at p = 1 %.2f cores, %.1f ns CPU a record; shedding %.2f cores, %.1f ns",
				s.Fraction(), w.cpuAt1.Seconds()/w.wallAt1.Seconds(), float64(w.cpuAt1)/float64(max(w.offeredAt1, 1)),
				w.cpuShed.Seconds()/max(w.wallShed.Seconds(), 1e-9), float64(w.cpuShed)/float64(max(w.offeredShed, 1)))
			if f := s.Fraction(); f < tc.minShed || f > tc.maxShed {
				t.Errorf("shed %.3f of the records, want [%v, %v]", f, tc.minShed, tc.maxShed)
			}
		})
	}
}

// TestControllerFutileCPUGroup: the shedders of a Group share the
// verdict of a trial found dearer per record: the CPU is the process's,
// so a second worker whose own trial would take its full trialTicks to
// find that (its records cost 20% more, under cpuClear) ends it as soon
// as the first worker's (70% more) does, and sheds less than alone.
func TestControllerFutileCPUGroup(t *testing.T) {
	run := func(group bool) (shedB uint64) {
		a := &cpuWorker{Batch: 1024, Read: 15 * time.Microsecond, Op: 30 * time.Microsecond, Shed: 32 * time.Microsecond,
			Share: 0.5, ShareShed: 1}
		b := &cpuWorker{Batch: 1024, Read: 15 * time.Microsecond, Op: 30 * time.Microsecond, Shed: 15 * time.Microsecond,
			Share: 0.5, ShareShed: 1}
		cpu := func() time.Duration { return a.cpu + b.cpu }
		var sa, sb *Shedder
		if group {
			g, err := NewGroup(Config{Policy: Random, Controller: ControllerConfig{CPU: cpu}})
			if err != nil {
				t.Fatal(err)
			}
			sa, sb = g.Shedder(0), g.Shedder(1)
		} else {
			sa = newTestShedder(t, Config{Policy: Random, Controller: ControllerConfig{CPU: cpu}})
			sb = newTestShedder(t, Config{Policy: Random, Controller: ControllerConfig{CPU: cpu}})
		}
		// The two take turns, a millisecond at a time, a's turn first.
		for range 1500 {
			a.run(sa, time.Millisecond)
			b.run(sb, time.Millisecond)
		}
		t.Logf("group %v: a shed %d, b shed %d of %d", group, sa.Summary().Shed, sb.Summary().Shed, sb.Summary().Seen)
		return sb.Summary().Shed
	}
	alone, together := run(false), run(true)
	if together >= alone || alone == 0 {
		t.Errorf("b shed %d in a group, %d alone: want fewer in the group", together, alone)
	}
}
