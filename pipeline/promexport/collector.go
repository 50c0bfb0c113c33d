package promexport

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamstat/streamstat/pipeline/observe"
)

// ErrBuckets: Config.Buckets are not finite, positive and increasing.
var ErrBuckets = errors.New("promexport: histogram buckets must be finite, positive and increasing")

// DefaultBuckets are the upper bounds, in seconds, of the checkpoint
// duration histogram's buckets: from a millisecond (a small sketch on a
// local disk) to five minutes.
var DefaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Config tunes a Collector. The zero value means the documented defaults.
type Config struct {
	// Buckets are the upper bounds, in seconds, of
	// streamstat_checkpoint_duration_seconds's buckets; nil means
	// DefaultBuckets.
	Buckets []float64
}

// Collector is a prometheus.Collector of one job: each Collect takes one
// snapshot and reports it (see the package doc for the metrics).
//
// The checkpoint duration histogram is the one thing a snapshot does not
// hold whole: the Collector adds to it every completed checkpoint that a
// snapshot's Checkpoints.Recent lists and it has not counted yet (by id,
// which grows within a run), and, when Recent does not list the last
// completed checkpoint (a snapshot from observe.Take keeps no list), that
// one, from LastDuration. An Observer's list holds the last
// observe.RecentCheckpoints, so the histogram counts every checkpoint as
// long as fewer complete between two scrapes; more, and its _count falls
// behind streamstat_checkpoints_total{result="completed"}, which always
// counts them all.
//
// The zero value is not usable; make one with New. A Collector is safe for
// concurrent use: concurrent scrapes each take a snapshot.
type Collector struct {
	snapshot func() observe.Snapshot
	d        descs

	mu      sync.Mutex
	bounds  []float64
	buckets []uint64 // per bound, not cumulative
	count   uint64
	sum     float64
	lastID  uint64 // newest checkpoint counted
}

// New returns a Collector that calls snapshot once per scrape. snapshot
// must be safe to call from the scraping goroutine while the pipeline
// runs, and should not disturb what else reads the job: beside the page,
// pass the Server's Last (the snapshot /api/snapshot serves, so both
// agree); without one, a func calling observe.Take. Not Observer.Take,
// whose rates each call restarts. New returns an error wrapping
// ErrBuckets if cfg.Buckets are bad.
func New(snapshot func() observe.Snapshot, cfg Config) (*Collector, error) {
	bounds := cfg.Buckets
	if bounds == nil {
		bounds = DefaultBuckets
	}
	for i, b := range bounds {
		if !(b > 0) || math.IsInf(b, 0) || i > 0 && !(b > bounds[i-1]) {
			return nil, fmt.Errorf("%w: got %v", ErrBuckets, bounds)
		}
	}
	if snapshot == nil {
		return nil, errors.New("promexport: New needs a snapshot function")
	}
	return &Collector{
		snapshot: snapshot, d: newDescs(),
		bounds: slices.Clone(bounds), buckets: make([]uint64, len(bounds)),
	}, nil
}

// Describe sends the descriptors of every metric the Collector may report.
// Metrics of parts a job lacks (shedding, checkpoints, an answer with a
// distinct count) are left out of a scrape rather than reported as zero.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect takes one snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	d := &c.d
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(desc, prometheus.GaugeValue, v, labels)
	}
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(desc, prometheus.CounterValue, v, labels)
	}

	version := s.Version
	if version == "" {
		version = "unknown"
	}
	gauge(d.buildInfo, 1, version, runtime.Version())
	gauge(d.jobInfo, 1, s.Job)
	for _, st := range []string{"running", "finished", "failed"} {
		gauge(d.jobState, b2f(s.State == st), st)
	}
	if !s.Started.IsZero() {
		gauge(d.start, unix(s.Started))
	}
	gauge(d.uptime, s.Uptime)
	gauge(d.resumed, b2f(s.Resumed))
	counter(d.restores, b2f(s.Resumed))
	counter(d.recordsRead, float64(s.Records))
	counter(d.bytesIn, float64(s.Bytes))
	if s.TotalBytes > 0 {
		gauge(d.inputSize, float64(s.TotalBytes))
	}
	if !s.LastRecord.IsZero() {
		gauge(d.lastRecord, unix(s.LastRecord))
	}

	for _, src := range s.Sources {
		l := strconv.Itoa(src.Source)
		counter(d.srcRecords, float64(src.Records), l)
		counter(d.srcBusy, src.Busy, l)
		counter(d.srcIdle, src.Idle, l)
		counter(d.srcBP, src.BackPressured, l)
	}
	for _, st := range s.Stages {
		stage, inst := st.Stage, strconv.Itoa(st.Instance)
		counter(d.recordsIn, float64(st.RecordsIn), stage, inst)
		counter(d.recordsOut, float64(st.RecordsOut), stage, inst)
		counter(d.busy, st.Busy, stage, inst)
		counter(d.idle, st.Idle, stage, inst)
		counter(d.bp, st.BackPressured, stage, inst)
		gauge(d.queued, float64(st.Backlog), stage, inst)
		gauge(d.credits, float64(st.Credits), stage, inst)
		gauge(d.usage, st.QueueUsage, stage, inst)
	}
	for _, b := range s.Branches {
		counter(d.branchRecords, float64(b.Records), b.Name)
		counter(d.branchSkipped, float64(b.Skipped), b.Name)
	}

	if sh := s.Shedding; sh != nil {
		counter(d.shed, float64(sh.Shed))
		counter(d.kept, float64(sh.Kept))
		gauge(d.keepP, sh.KeepP)
		gauge(d.arrival, sh.Arrival)
		gauge(d.capacity, sh.Capacity)
	}

	if cp := s.Checkpoints; cp != nil {
		counter(d.checkpoints, float64(cp.Completed), "completed")
		counter(d.checkpoints, float64(cp.Failed), "failed")
		counter(d.checkpoints, float64(cp.Abandoned), "abandoned")
		gauge(d.inProgress, b2f(cp.InProgress))
		ch <- c.histogram(cp)
		if cp.Completed > 0 {
			gauge(d.lastDuration, cp.LastDuration)
			gauge(d.lastAlignment, cp.LastAlignment)
			gauge(d.lastPause, cp.LastPause)
			gauge(d.lastSize, float64(cp.LastSize))
		}
		if !cp.LastCompleted.IsZero() {
			gauge(d.lastCompleted, unix(cp.LastCompleted))
		}
	}

	for _, e := range distinctEstimates(s.Answer) {
		gauge(d.distinct, e.Value, e.Name)
		gauge(d.distinctLower, e.Lower, e.Name)
		gauge(d.distinctUpper, e.Upper, e.Name)
	}
}

// histogram adds the checkpoints cp shows that were not counted yet and
// returns the histogram.
func (c *Collector) histogram(cp *observe.Checkpoints) prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	listed := false
	for _, r := range cp.Recent {
		if r.OK && r.ID == cp.LastID {
			listed = true
		}
		if r.OK && r.ID > c.lastID {
			c.observe(r.ID, r.Duration)
		}
	}
	if !listed && cp.Completed > 0 && cp.LastID > c.lastID {
		c.observe(cp.LastID, cp.LastDuration)
	}
	cum := make(map[float64]uint64, len(c.bounds))
	var n uint64
	for i, b := range c.bounds {
		n += c.buckets[i]
		cum[b] = n
	}
	return prometheus.MustNewConstHistogram(c.d.duration, c.count, c.sum, cum)
}

func (c *Collector) observe(id uint64, seconds float64) {
	c.lastID = id
	c.count++
	c.sum += seconds
	if i, _ := slices.BinarySearch(c.bounds, seconds); i < len(c.bounds) {
		c.buckets[i]++ // le is inclusive: BinarySearch finds an equal bound
	}
}

// constMetric makes a metric whose label values (stage and branch names,
// the version, the command: the caller's strings) are made valid UTF-8
// first, as Prometheus requires, so that no name makes a scrape fail.
func constMetric(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) prometheus.Metric {
	for i, l := range labels {
		if !utf8.ValidString(l) {
			labels[i] = strings.ToValidUTF8(l, "\uFFFD")
		}
	}
	m, err := prometheus.NewConstMetric(desc, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err) // a bug here, not bad input: the scrape says so
	}
	return m
}
