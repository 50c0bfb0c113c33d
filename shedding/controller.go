package shedding

import (
	"fmt"
	"math"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// Controller defaults, used where a ControllerConfig field is zero.
const (
	DefaultMaxLatency = 100 * time.Millisecond
	DefaultHeadroom   = 0.95
	DefaultInterval   = 10 * time.Millisecond
	DefaultMinP       = 1.0 / 1024
)

// ControllerConfig tunes a Controller. The zero value means the documented
// defaults: capacity measured, 100 ms latency target, headroom 0.95, a
// decision every 10 ms, p never below 1/1024.
type ControllerConfig struct {
	// MaxLatency is the queueing latency not to exceed downstream of the
	// shedder; the controller aims at a standing queue of a quarter of it
	// (or of half the channel's buffers, if less). 0 means
	// DefaultMaxLatency.
	MaxLatency time.Duration
	// Capacity, if > 0, is the rate in records per second the downstream
	// can take, known beforehand (Aurora's approach). It is the starting
	// estimate, refined by measurement where the channel tells the
	// controller what it delivered; with no channel (operators chained to
	// the source: a zero Pressure) it is the only estimate. 0 means
	// measure it: until the channel has been seen saturated the controller
	// knows no capacity, and sheds only on back-pressure.
	Capacity float64
	// Headroom, in (0, 1]: overload is declared when the arrival rate
	// exceeds Headroom times the capacity, as in Aurora, and with no
	// channel to watch (a zero Pressure) that fraction of the capacity is
	// what the controller admits. With a channel the standing queue is the
	// margin, and the whole measured capacity is admitted. 0 means
	// DefaultHeadroom.
	Headroom float64
	// Interval is the control period: p changes at most once per Interval
	// of the time passed to Update. 0 means DefaultInterval.
	Interval time.Duration
	// MinP is the smallest keep probability, in [PStep, 1]. 0 means
	// DefaultMinP. Below it the source is back-pressured instead.
	MinP float64
	// Fixed, if > 0, pins p at Quantize(Fixed) in (0, 1]: no control, for
	// tests and for sampling at a known rate.
	Fixed float64
	// CPU, if set, tells the CPU time the process has used so far (all
	// its threads), read once a tick. Where the process used at least
	// cpuBusy cores at p = 1, a trial of shedding
	// (see Controller) is then futile also if the records offered cost
	// more CPU each, over all the shedders of the Group, than at p = 1: a
	// source that takes records faster under shedding by taking the CPU
	// from the job's other goroutines, at a higher cost per record (the
	// channel, gathering, weighted counts), has made the job no faster.
	// (Where the job hardly uses the CPU, as behind an operator that
	// waits on I/O, shedding may cost more CPU per record and still get
	// the job through its backlog sooner.) nil: throughput alone decides.
	// A Group's shedders call it from their sources' goroutines, so it
	// must be safe for concurrent use (a getrusage call is).
	CPU func() time.Duration

	meter *cpuMeter // the records offered to the Group's controllers
}

// Controller decides the keep probability p from what the shedder in
// front of a credit channel sees: the records offered, the records it
// kept, and the channel's backlog, back-pressured time and records
// delivered (a pipeline.Pressure). Time is passed in, never read, so the
// controller is a deterministic function of its inputs and tests drive it
// with a fake clock.
//
// # Control law
//
// Every Interval (a tick) it updates four estimates: the arrival rate
// lambda (an EWMA of the records offered per second, time constant 10
// Intervals, long enough to ride over the bursts in which a source catches
// up after a stall); the queue q, the records kept and not yet processed
// (the sizes of the last Backlog batches sent, from the Pressure's counts
// of records and batches sent, plus the records kept and held at the
// source, not sent yet: a pipeline source gathers them into full
// batches); the capacity mu (an EWMA,
// time constant 20 Intervals, of the records processed per second, sent
// minus the growth of q, in ticks where the receiver never ran dry: the
// backlog stayed at one batch or more, or the receiver held a batch at
// every look, or the sender waited for credit,
// and no gap in the input, a pause of more than half an Interval between
// batches not spent waiting for credit, may have left it idle); and the
// lag L, for how long the source has been behind its input (every tick
// since it last caught up had full batches, a wait for credit and no gap
// in the input, nor, where the source says how long it waited for input
// (pipeline.InputWaiter), more than waitedMax of the tick spent waiting:
// records were waiting in front of it all along). Then:
//
//   - Overload is a queueing delay beyond the target: L + q/mu >
//     MaxLatency, the time records have waited in front of the source plus
//     the time to drain the channel. A burst that drains within the target
//     is not overload, however fast it arrived or however long the source
//     waited for credit meanwhile. Once shedding, overload goes on while
//     lambda > Headroom·mu (as in Aurora: Tatbul, Çetintemel, Zdonik,
//     Cherniack and Stonebraker, "Load shedding in a data stream manager",
//     VLDB 2003, Sect. 3), since shedding less would let the queue grow
//     back.
//   - Without overload the target is p = 1: nothing is shed.
//   - Under overload, with the channel in view, the target admits the
//     capacity plus a proportional correction that holds the queue at a
//     setpoint q* (a quarter of MaxLatency's worth of records at mu, or
//     mean batches in half the buffers the backlog can fill, if less):
//     p* = (mu + (q* - q)/T)/lambda, with T = max(2q*/mu, 2 Intervals) and
//     q the mean queue over the tick. This is the queue-length feedback of
//     Kalyvianaki, Charalambous, Fiscato and Pietzuch ("Overload management
//     in data stream processing systems with latency guarantees", FeBID
//     2012; also THEMIS, SIGMOD 2016) in its simplest, proportional form.
//     At its fixed point q = q*: the receiver never idles and exactly mu
//     is admitted, so the shed fraction is the least possible,
//     1 - mu/lambda, and the queueing latency about q*/mu. While the
//     source is behind (L > 0) the queue is past its setpoint whatever the
//     channel shows, and at most mu is admitted.
//   - With no channel in view (a zero Pressure: operators chained to the
//     source) the law is Aurora's open loop: overload is lambda >
//     Headroom·mu, and p* = Headroom·mu/lambda.
//   - Before any capacity is known the target is p·(1 - f), f the
//     fraction of the tick the sender waited. Afterwards, a source that
//     is behind its input holds back arrivals that lambda does not count
//     (it counts what the source pulls, about mu/p): once L exceeds a
//     quarter of MaxLatency, the target is at most p·(1 - f/8), a gentle
//     push until the source catches up and lambda tells the arrival rate
//     again.
//   - Shedding that does not raise throughput is stopped: while the
//     source is behind its input, the rate at which it takes records under
//     shedding is compared with the capacity at p = 1, and if dropping
//     records did not make it take them faster (the source, not the
//     operator, is the bottleneck, or shedding's own work costs more than
//     it saves), p returns to 1 and stays there for a while (see futile).
//     With the process's CPU time in view (ControllerConfig.CPU), a trial
//     that made each record cost more CPU, in a process busy at p = 1, is
//     futile too however fast the source went (it took the CPU from the
//     job's other goroutines), ends after one tick if far dearer, and
//     ends the trials of the Group's other controllers. Shedding then
//     never makes a job slower, but for its short trials.
//
// p then moves toward p* smoothly: down by an EWMA with a 2-Interval time
// constant, and by at most half per tick; up by an EWMA with a 5-Interval
// time constant and at least 1/64 per tick (1/16 once nothing is
// overloaded), so that it reaches 1 exactly when the load drops. p is
// quantized to the PStep grid. Capacity is
// learnt only from saturated ticks, so an idle receiver never teaches it a
// low capacity; when shedding leaves the receiver idle after all, a higher
// delivered rate is learnt too.
//
// Where the Pressure does not count batches (Batches = 0, as in one made
// by hand), the queue estimate takes each shed batch to travel as one
// batch of the records it kept. Behind a ByKey exchange, which splits
// batches, the backlog overstates the queue and the controller sheds a
// little more than it must. Records a source holds back while it waits
// for credit (not yet read from its input) are not in view at all, which
// is why the lag is measured as a time, not as records.
//
// The zero value is not usable; make one with NewController. A Controller
// is not safe for concurrent use: each Shedder owns one.
type Controller struct {
	cfg ControllerConfig
	st  ctrlState
}

// ringLen is the number of recent batch sizes the controller remembers to
// estimate the queue: more than a channel's buffers.
const ringLen = 64

// ctrlState is everything the controller needs to continue: its encoding
// is part of the shed state.
type ctrlState struct {
	p          float64
	started    bool
	tick       int64   // start of the current tick, Unix ns
	offered    uint64  // records offered in the tick ...
	batches    uint64  // ... in this many batches
	maxBatch   uint64  // the largest batch ever offered
	minBacklog int64   // smallest backlog seen in the tick
	sumQueue   float64 // sum of the queues seen in the tick ...
	samples    int64   // ... and their number
	bp0        int64   // Pressure.BackPressured at the tick start, ns
	rec0       uint64  // Pressure.Records at the tick start
	q0         float64 // queue at the tick start
	lambda     float64 // records/s offered; 0 unknown
	mu         float64 // records/s the downstream takes; 0 unknown
	batch      float64 // EWMA of records per batch sent; 0 unknown
	buffers    int     // the most buffers the channel has had
	blocked    int     // consecutive ticks the sender waited for most of
	recent     [ringLen]uint32
	head       int   // recent[head-1] is the last batch sent
	lag        int64 // ns the source has been behind its input, 0 if not
	lastCall   int64 // time of the last Update, Unix ns
	bpLast     int64 // Pressure.BackPressured then, ns
	maxIdle    int64 // longest time in the tick between Updates not spent waiting for credit, ns

	// Not in the encoding: a restored controller learns them again from
	// the channel it is restored in front of.
	counted bool   // the last Pressure counted batches sent: recent holds their sizes
	sentR   uint64 // Pressure.Records at the last Update
	sentB   uint64 // Pressure.Batches then
	keptAll uint64 // records kept, ever (Observed)
	iw0     int64  // Pressure.InputWait at the tick start, ns
	// CPU cost per record (ControllerConfig.CPU): the process's CPU time
	// and the meter's count at the last tick's close; the cost at p = 1
	// (cpuBase, ns per record offered) and over the trial (cpuSum over
	// cpuN ticks).
	// cpuCores is the mean number of cores the process used at p = 1.
	// verdicts is the meter's count of them when last looked at.
	cpu0, cpuN0, verdicts     uint64
	cpuBase, cpuSum, cpuCores float64
	cpuN                      int
	minBusy                   int64 // smallest Backlog + AtReceiver seen in the tick
	// Whether shedding raises throughput (see futile): the capacity at
	// p = 1 (base), the rate offered while the source was behind its
	// input under shedding (trial, over trialN ticks at a mean p of
	// trialP/trialN);
	// hold ticks left without shedding after a futile trial, and the next
	// hold's length.
	base, trial, trialP float64
	trialN, trialWait   int
	hold, holdLen       int
}

// waitedMax is the fraction of a tick a source may wait for input
// (Pressure.InputWait) and still be behind it: a worker that takes a
// chunk already read spends about a thousandth of the tick on it; one that
// keeps up with a pipe it shares with other workers waited a tenth to a
// half of most ticks.
const waitedMax = 1.0 / 16

// NewController checks cfg and returns a controller at p = 1.
func NewController(cfg ControllerConfig) (*Controller, error) {
	if cfg.MaxLatency == 0 {
		cfg.MaxLatency = DefaultMaxLatency
	}
	if cfg.Headroom == 0 {
		cfg.Headroom = DefaultHeadroom
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MinP == 0 {
		cfg.MinP = DefaultMinP
	}
	bad := func(what string, v any) error {
		return fmt.Errorf("shedding: controller %s %v: %w", what, v, ErrInvalidParameter)
	}
	switch {
	case cfg.MaxLatency < 0:
		return nil, bad("max latency", cfg.MaxLatency)
	case !(cfg.Capacity >= 0) || math.IsInf(cfg.Capacity, 0):
		return nil, bad("capacity", cfg.Capacity)
	case !(cfg.Headroom > 0 && cfg.Headroom <= 1):
		return nil, bad("headroom (want (0, 1])", cfg.Headroom)
	case cfg.Interval < 0:
		return nil, bad("interval", cfg.Interval)
	case !(cfg.MinP >= PStep && cfg.MinP <= 1):
		return nil, bad("minimum p (want [2^-16, 1])", cfg.MinP)
	case !(cfg.Fixed >= 0 && cfg.Fixed <= 1):
		return nil, bad("fixed p (want (0, 1])", cfg.Fixed)
	}
	cfg.MinP = math.Ceil(cfg.MinP*(1<<pBits)) / (1 << pBits) // on the grid
	if cfg.CPU != nil && cfg.meter == nil {
		cfg.meter = new(cpuMeter)
	}
	c := &Controller{cfg: cfg}
	c.st.p = 1
	if cfg.Fixed > 0 {
		c.st.p = Quantize(cfg.Fixed)
	}
	c.st.mu = cfg.Capacity
	return c, nil
}

// Config returns the configuration, defaults filled in.
func (c *Controller) Config() ControllerConfig { return c.cfg }

// P returns the keep probability in force.
func (c *Controller) P() float64 { return c.st.p }

// Rates returns the current estimates of the arrival rate and the
// capacity, in records per second; 0 means not known yet.
func (c *Controller) Rates() (arrival, capacity float64) { return c.st.lambda, c.st.mu }

// Update observes the channel at now, closing a tick if one Interval has
// passed since the last, and returns the keep probability for the batch
// about to be shed. Call Observed after shedding it.
func (c *Controller) Update(now time.Time, pr pipeline.Pressure) float64 {
	if c.cfg.Fixed > 0 {
		return c.st.p
	}
	t := now.UnixNano()
	st := &c.st
	if !st.started {
		st.sent(pr)
		c.startTick(t, pr)
		st.started = true
		return st.p
	}
	st.sent(pr)
	st.minBacklog = min(st.minBacklog, int64(pr.Backlog))
	st.minBusy = min(st.minBusy, int64(pr.Backlog+pr.AtReceiver))
	st.buffers = max(st.buffers, pr.Buffers)
	// Time between two batches not spent waiting for credit: the source
	// read its input, or waited for it (a gap in a bursty stream), while
	// the receiver may have run dry.
	st.maxIdle = max(st.maxIdle, (t-st.lastCall)-(int64(pr.BackPressured)-st.bpLast))
	st.lastCall, st.bpLast = t, int64(pr.BackPressured)
	st.sumQueue += st.queued(pr) + st.held(pr)
	st.samples++
	dt := t - st.tick
	if dt < int64(c.cfg.Interval) && dt >= 0 {
		return st.p
	}
	if dt > 0 && pr.Records >= st.rec0 && int64(pr.BackPressured) >= st.bp0 {
		c.control(float64(dt)/1e9, pr)
	} // else time or the channel went backwards (a restored state): restart the tick
	c.startTick(t, pr)
	return st.p
}

// Observed tells the controller that a batch of offered records was shed
// down to kept, which were sent on as one batch if any.
func (c *Controller) Observed(offered, kept int) {
	st := &c.st
	st.offered += uint64(offered)
	st.batches++
	st.maxBatch = max(st.maxBatch, uint64(offered))
	st.keptAll += uint64(max(kept, 0))
	if kept > 0 && !st.counted {
		st.recent[st.head] = uint32(min(uint64(kept), math.MaxUint32))
		st.head = (st.head + 1) % ringLen
		if st.batch == 0 {
			st.batch = float64(kept)
		} else {
			st.batch += (float64(kept) - st.batch) / 16
		}
	}
}

// sent records the sizes of the batches sent since the last Update, when
// the Pressure counts them (pipeline.Pressure.Batches): a source that
// gathers kept records into full batches sends fewer, larger batches than
// it sheds, and the queue is in those. Without the count, Observed
// records the kept records of each shed batch instead, each taken to
// travel as one batch.
// oneBatchWeight is the weight of one new batch in the mean batch size.
var oneBatchWeight = -math.Expm1(-1.0 / 16)

func (st *ctrlState) sent(pr pipeline.Pressure) {
	st.counted = pr.Batches > 0
	if pr.Batches < st.sentB || pr.Records < st.sentR {
		st.sentB, st.sentR = pr.Batches, pr.Records // another channel (a restore)
		return
	}
	db, dr := pr.Batches-st.sentB, pr.Records-st.sentR
	st.sentB, st.sentR = pr.Batches, pr.Records
	if db == 0 {
		return
	}
	mean := float64(dr) / float64(db)
	for i := range min(db, ringLen) {
		// Spread dr over the db batches, largest first.
		size := dr / db
		if i < dr%db {
			size++
		}
		st.recent[st.head] = uint32(min(size, math.MaxUint32))
		st.head = (st.head + 1) % ringLen
	}
	switch {
	case st.batch == 0:
		st.batch = mean
	case db == 1: // the usual call, once a batch: no Expm1
		st.batch += (mean - st.batch) * oneBatchWeight
	default:
		st.batch += (mean - st.batch) * -math.Expm1(-float64(db)/16)
	}
}

// held is the number of records kept and not yet sent: gathered at the
// source into a batch that has not filled. They wait as the queued ones do.
func (st *ctrlState) held(pr pipeline.Pressure) float64 {
	if !st.counted || st.keptAll <= pr.Records {
		return 0 // (a fan-out counts each record once per branch)
	}
	return float64(st.keptAll - pr.Records)
}

// queued estimates the records sent and not yet processed: the last
// Backlog batches sent (the sizes of the batches sent where the Pressure
// counts them, else of the batches kept), and, where the Pressure does
// not say what the receiver holds, half the one before the backlog if
// InFlight shows more than the sender's one or two buffers. (Where it
// does, the batch being processed is left out: the receiver is through
// part of it, and the queue setpoint was tuned without it.)
func (st *ctrlState) queued(pr pipeline.Pressure) float64 {
	n := min(max(pr.Backlog, 0), ringLen-1)
	q := 0.0
	for i := 1; i <= n; i++ {
		q += float64(st.recent[(st.head-i+ringLen)%ringLen])
	}
	if !st.counted && pr.InFlight-pr.Backlog >= 2 {
		q += float64(st.recent[(st.head-n-1+ringLen)%ringLen]) / 2
	}
	return q
}

func (c *Controller) startTick(t int64, pr pipeline.Pressure) {
	st := &c.st
	st.tick, st.offered, st.batches = t, 0, 0
	st.lastCall, st.bpLast, st.maxIdle = t, int64(pr.BackPressured), 0
	st.q0 = st.queued(pr)
	st.minBacklog = int64(pr.Backlog)
	st.minBusy = int64(pr.Backlog + pr.AtReceiver)
	st.sumQueue, st.samples = st.q0+st.held(pr), 1
	st.bp0, st.rec0 = int64(pr.BackPressured), pr.Records
	st.iw0 = int64(pr.InputWait)
}

// ewma moves *x toward sample with weight 1 - exp(-dt/tau); an unknown
// (zero) *x takes the sample.
func ewma(x *float64, sample, dt, tau float64) {
	if *x == 0 {
		*x = sample
		return
	}
	*x += (sample - *x) * -math.Expm1(-dt/tau)
}

// control closes a tick of dt seconds: the law in the type's comment.
func (c *Controller) control(dt float64, pr pipeline.Pressure) {
	st, cfg := &c.st, &c.cfg
	iv := cfg.Interval.Seconds()
	ewma(&st.lambda, float64(st.offered)/dt, dt, 10*iv)

	f := min(max(float64(int64(pr.BackPressured)-st.bp0)/1e9/dt, 0), 1)
	if f > 0.5 {
		st.blocked++
	} else {
		st.blocked = 0
	}
	// A gap between batches longer than half a tick, not spent waiting
	// for credit, is the source waiting for input: it had caught up, and
	// the receiver may have run dry.
	gapless := float64(st.maxIdle) <= 0.5*iv*1e9
	// So is a source that says it waited for input (Pressure.InputWait)
	// for more than waitedMax of the tick, in however many short waits
	// within its Fills: a worker that reads a pipe through a goroutine
	// dealing it chunks fills every batch, and yet keeps up.
	waited := float64(int64(pr.InputWait)-st.iw0)/1e9 > waitedMax*dt
	steady := gapless && !waited
	// Full batches, a wait for credit and no gap: records are waiting in
	// front of the source, for as long as that has gone on.
	full := st.batches > 0 && float64(st.offered) >= 0.75*float64(st.batches*st.maxBatch)
	behind := f > 0 && full && steady
	if behind {
		st.lag += int64(dt * 1e9)
	} else {
		st.lag = 0
	}
	qm := st.sumQueue / float64(st.samples)
	// For the futility check, a source is behind its input if it
	// filled its batches without a gap, waiting for credit or not: a
	// source that has the CPU to itself under shedding never waits.
	// (A source that caught up under shedding counts too: the rate it
	// took records at is then its input's, and says whether shedding
	// raised it.)
	futile := c.futile(full && gapless, float64(st.offered)/dt, qm, dt, c.cpuPerRecord(dt))
	channel := pr.Buffers > 0
	if channel {
		delivered := float64(pr.Records-st.rec0) - (st.queued(pr) - st.q0)
		// The receiver never ran dry: a batch queued at every look (or,
		// where the Pressure says what the receiver holds, a batch queued
		// or being processed: a source that gathers full batches keeps
		// the receiver busy with few of them, and a backlog of one is
		// rare).
		busy := st.minBacklog >= 1 || st.counted && st.minBusy >= 1
		rate := max(delivered, 0) / dt
		switch {
		case (busy || f > 0) && steady && delivered > 0:
			ewma(&st.mu, rate, dt, 20*iv)
			if st.p >= 1 {
				// The base of the futility check: what the receiver
				// takes at p = 1 now, not the slow mean mu is.
				ewma(&st.base, rate, dt, 3*iv)
			}
		case st.p < 1 && st.mu > 0 && rate > st.mu:
			// Shedding left the receiver idle at times and it still
			// took more than we thought it could.
			ewma(&st.mu, rate, dt, 20*iv)
		}
	}

	// Overload is a queueing delay beyond the target: the time the source
	// has been behind plus the time to drain the channel. A burst that
	// drains within the target is not overload, however fast it came.
	// Once shedding, the arrival rate above the capacity is: shedding less
	// would let the queue grow back.
	delay := float64(st.lag) / 1e9
	if st.mu > 0 {
		delay += qm / st.mu
	}
	overloaded := delay > cfg.MaxLatency.Seconds()
	if st.mu > 0 && st.lambda > cfg.Headroom*st.mu && (!channel || st.p < 1) {
		overloaded = true
	}
	if futile || st.hold > 0 {
		overloaded = false
	}
	target := 1.0
	if overloaded {
		target = st.p * (1 - f)
		if st.mu > 0 && st.lambda > 0 {
			admit := cfg.Headroom * st.mu // open loop, as Aurora
			if channel {
				// Closed loop: the standing queue is the margin.
				qs := st.mu * cfg.MaxLatency.Seconds() / 4
				if st.batch > 0 {
					// Half the buffers the backlog can fill: the
					// sender holds one or two of them.
					qs = min(qs, float64(max(st.buffers-2, 1))/2*st.batch)
				}
				admit = st.mu + (qs-qm)/max(2*qs/st.mu, 2*iv)
				if st.lag > 0 {
					// Records wait in front of the source: the
					// queue is past its setpoint, whatever the
					// channel shows.
					admit = min(admit, st.mu)
				}
			}
			target = admit / st.lambda
			// A source behind its input fills every batch to the brim
			// and then waits for credit, holding back arrivals that
			// neither lambda nor the queue shows: lambda counts what it
			// pulls, about mu/p, and says nothing. (Waiting alone is no
			// sign: with a channel full of small batches a source that
			// keeps up waits most of the time.) Once it has been behind
			// for longer than the target, do not go up, and go down a
			// little, the more it waited, until it catches up and lambda
			// tells the arrival rate again.
			if full && f > 0 && float64(st.lag)/1e9 > cfg.MaxLatency.Seconds()/4 {
				target = min(target, st.p*(1-f/8))
			}
		}
	}
	target = min(max(target, cfg.MinP), 1)
	p := st.p
	if futile {
		p = 1 // at once: shedding only cost throughput
	}
	if target < p {
		down := (p - target) * -math.Expm1(-dt/(2*iv))
		p = max(p-down, p/2)
	} else {
		// Up at least 1/64 a tick, or 1/16 once nothing is overloaded
		// (the arrival rate is below the capacity): records shed then
		// are shed for nothing.
		step := 1.0 / 64
		if !overloaded {
			step = 1.0 / 16
		}
		up := (target - p) * -math.Expm1(-dt/(5*iv))
		p = min(target, p+max(up, step))
	}
	st.p = max(Quantize(p), cfg.MinP) // MinP is on the grid too
}
