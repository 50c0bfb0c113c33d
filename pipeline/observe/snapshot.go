package observe

import (
	"math"
	"strconv"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// Info is what the caller knows about a job that the pipeline does not: its
// name, inputs, build, how far it has read. Every field is optional; the
// zero value describes an unnamed job. An Info is read, never changed, by
// this package: its funcs are called once per snapshot, from the goroutine
// taking it, and must be safe to call concurrently with the pipeline.
type Info struct {
	// Job names the job: the CLI's subcommand ("top") or a program's name.
	Job string
	// Inputs are the job's inputs as the user named them (files, "-").
	Inputs []string
	// Version is the build's version.
	Version string
	// Resumed says the run went on from a checkpoint; Restore, if set,
	// names it.
	Resumed bool
	Restore *Restore
	// Progress, if set, returns the input bytes read so far and their
	// total size, 0 if unknown (a pipe).
	Progress func() (read, total int64)
	// Shed, if set, is the shedding group the pipeline's
	// Config.NewShedder comes from.
	Shed *shedding.Group
	// Shedders, if set (and Shed is not), returns the shedders in force,
	// for a runtime whose shedders come and go (a Kafka worker's, one per
	// owned partition): Snapshot.Shedding sums them.
	Shedders func() []*shedding.Shedder
	// Checkpoints says the pipeline takes checkpoints (the pipeline does
	// not tell): Snapshot.Checkpoints is then set even before the first.
	Checkpoints bool
	// Details, if set, gives Snapshot.Details: what a runtime other than
	// a pipeline adds (a Kafka worker's group, owned partitions and
	// transactions).
	Details func() any
}

// Restore names the checkpoint a run was restored from. It is a plain
// value.
type Restore struct {
	ID   uint64    `json:"id"`
	Time time.Time `json:"time"` // when that checkpoint was triggered
}

// Health classes of an instance's back-pressured share, as in Flink's
// back-pressure view.
const (
	HealthOK   = "OK"   // back-pressured under 10% of the time
	HealthLow  = "LOW"  // 10% to 50%
	HealthHigh = "HIGH" // above 50%
)

// Health returns the class of a back-pressured share in [0, 1].
func Health(backPressured float64) string {
	switch {
	case backPressured > 0.5:
		return HealthHigh
	case backPressured > 0.1:
		return HealthLow
	}
	return HealthOK
}

// Snapshot is what a job looks like at one moment: the runtime state of its
// pipeline and the caller's answer. It is what /api/snapshot serves, each
// server-sent event carries, and the Prometheus adapter reads. Counters are
// cumulative since Run started; rates and shares cover Window seconds (the
// time since the previous snapshot of an Observer, or the whole run for
// Take), except that once Run has returned an Observer's rates are 0 and
// its shares those of the whole run. The zero value is an empty snapshot; a Snapshot is a plain value.
type Snapshot struct {
	Time    time.Time `json:"time"`
	Job     string    `json:"job"`
	Inputs  []string  `json:"inputs,omitempty"`
	Version string    `json:"version,omitempty"`
	// State is "running", "finished" or "failed" (Error says why); only
	// an Observer knows the last two (see Observer.Done).
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Started is when Run started (zero before); Uptime the seconds since
	// (frozen when Run returns).
	Started time.Time `json:"started"`
	Uptime  float64   `json:"uptime_seconds"`
	// Window is the seconds the rates and shares below cover.
	Window  float64  `json:"window_seconds"`
	Resumed bool     `json:"resumed"`
	Restore *Restore `json:"restore,omitempty"`

	// Records counts the records all sources produced (before
	// shedding); Bytes and TotalBytes are Info.Progress (TotalBytes 0:
	// unknown).
	Records       uint64  `json:"records"`
	RecordsPerSec float64 `json:"records_per_second"`
	Bytes         int64   `json:"bytes"`
	TotalBytes    int64   `json:"total_bytes,omitempty"`

	Sources  []Source `json:"sources"`
	Stages   []Stage  `json:"stages"`
	Branches []Branch `json:"branches,omitempty"`
	// Bottleneck names the busiest instance ("stage#i") among those busy
	// at least half the time and not highly back-pressured (a stage that
	// waits on the next one most of the time is not what holds the job
	// up), "" if there is none: every instance keeps up.
	Bottleneck string `json:"bottleneck"`

	Shedding    *Shedding    `json:"shedding,omitempty"`
	Checkpoints *Checkpoints `json:"checkpoints,omitempty"`

	// LastRecord is when the sources' record count last grew, as seen by
	// the snapshots (so to within their interval; zero if never), and
	// SinceLastRecord the seconds since (-1 if never).
	LastRecord      time.Time `json:"last_record,omitzero"`
	SinceLastRecord float64   `json:"since_last_record_seconds"`

	// Details are Info.Details: what the runtime adds, as JSON.
	Details any `json:"details,omitempty"`
	// Answer is the caller's answer, as its JSON output prints it.
	Answer any `json:"answer,omitempty"`
	// Windows are the windows of a windowed answer (see WindowPoint),
	// oldest first: each estimate's series over the windows.
	Windows []WindowPoint `json:"windows,omitempty"`
}

// Source is one source's goroutine. Shares are fractions of Window. It
// is a plain value, as are Stage, Branch, Shedding, Checkpoints and
// CheckpointRecord; their zero values mean nothing counted yet.
type Source struct {
	Source             int     `json:"source"`
	Records            uint64  `json:"records"`
	Busy               float64 `json:"busy_seconds"`
	Idle               float64 `json:"idle_seconds"`
	BackPressured      float64 `json:"backpressured_seconds"`
	OutPerSec          float64 `json:"out_per_second"`
	BusyShare          float64 `json:"busy_share"`
	IdleShare          float64 `json:"idle_share"`
	BackPressuredShare float64 `json:"backpressured_share"`
	Health             string  `json:"health"`
}

// Stage is one operator instance. Shares are fractions of Window.
type Stage struct {
	Stage              string  `json:"stage"`
	Instance           int     `json:"instance"`
	RecordsIn          uint64  `json:"records_in"`
	RecordsOut         uint64  `json:"records_out"`
	Busy               float64 `json:"busy_seconds"`
	Idle               float64 `json:"idle_seconds"`
	BackPressured      float64 `json:"backpressured_seconds"`
	Backlog            int     `json:"queued_batches"`
	Credits            int     `json:"credits"`
	QueueUsage         float64 `json:"queue_usage"`
	InPerSec           float64 `json:"in_per_second"`
	OutPerSec          float64 `json:"out_per_second"`
	BusyShare          float64 `json:"busy_share"`
	IdleShare          float64 `json:"idle_share"`
	BackPressuredShare float64 `json:"backpressured_share"`
	Health             string  `json:"health"`
}

// Branch is one arm of a fan-out (pipeline.BranchStats).
type Branch struct {
	Name    string `json:"name"`
	Stages  []int  `json:"stages"`
	Records uint64 `json:"records"`
	Skipped uint64 `json:"skipped"`
}

// Shedding is what the shedders did.
type Shedding struct {
	// KeepP is the keep probability in force (the mean over the sources'
	// shedders); MinP and MeanP are over the records offered so far.
	KeepP        float64 `json:"keep_probability"`
	MinP         float64 `json:"min_p"`
	MeanP        float64 `json:"mean_p"`
	Seen         uint64  `json:"seen"`
	Kept         uint64  `json:"kept"`
	Shed         uint64  `json:"shed"`
	ShedFraction float64 `json:"shed_fraction"`
	// ShedPerSec and SeenPerSec are rates over Window; WindowFraction
	// the fraction shed in it.
	ShedPerSec     float64 `json:"shed_per_second"`
	SeenPerSec     float64 `json:"seen_per_second"`
	WindowFraction float64 `json:"window_shed_fraction"`
	// Arrival and Capacity are the controllers' estimates in records per
	// second, summed over the sources (0: not known yet).
	Arrival  float64 `json:"arrival_per_second"`
	Capacity float64 `json:"capacity_per_second"`
}

// Checkpoints counts checkpoints (pipeline.CheckpointStats); nil in a
// Snapshot when the pipeline takes none.
type Checkpoints struct {
	Completed  uint64 `json:"completed"`
	Failed     uint64 `json:"failed"`
	Abandoned  uint64 `json:"abandoned"`
	InProgress bool   `json:"in_progress"`
	LastID     uint64 `json:"last_id"`
	// Durations of the last completed checkpoint, in seconds.
	LastDuration  float64 `json:"last_duration_seconds"`
	LastAlignment float64 `json:"last_alignment_seconds"`
	LastPause     float64 `json:"last_pause_seconds"`
	LastSize      int64   `json:"last_size_bytes"`
	// LastCompleted is when the last completed checkpoint was seen
	// complete (zero if none).
	LastCompleted time.Time `json:"last_completed,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	// Recent are the last checkpoints (at most RecentCheckpoints), oldest
	// first; only an Observer keeps them.
	Recent []CheckpointRecord `json:"recent"`
}

// CheckpointRecord is one checkpoint that completed or failed.
type CheckpointRecord struct {
	ID        uint64    `json:"id"`
	Time      time.Time `json:"time"` // when it completed or failed
	OK        bool      `json:"ok"`
	Duration  float64   `json:"duration_seconds"`
	Alignment float64   `json:"alignment_seconds"`
	Size      int64     `json:"size_bytes"`
	Error     string    `json:"error,omitempty"`
}

// RecentCheckpoints is how many checkpoints a Snapshot lists.
const RecentCheckpoints = 60

// Take returns a snapshot of p at now, with rates and shares averaged over
// the whole run; answer, if not nil, gives Snapshot.Answer. It reads the
// counters the pipeline keeps anyway (see pipeline.Metrics), so it costs
// what answer costs plus a few microseconds. An Observer keeps the state
// that turns a series of them into rates per interval, recent checkpoints
// and freshness.
func Take(p Runtime, info Info, answer func() any, now time.Time) Snapshot {
	s := take(p, info, now)
	if answer != nil {
		s.Answer = answer()
	}
	s.rates(nil)
	return s
}

// take fills everything but the answer and the rates.
func take(p Runtime, info Info, now time.Time) Snapshot {
	m := p.Metrics()
	s := Snapshot{
		Time: now, Job: info.Job, Inputs: info.Inputs, Version: info.Version,
		State: "running", Uptime: m.Elapsed.Seconds(),
		Resumed: info.Resumed || info.Restore != nil, Restore: info.Restore,
		SinceLastRecord: -1,
	}
	if m.Elapsed > 0 {
		s.Started = m.Time.Add(-m.Elapsed) // exact while Run runs; an Observer keeps the first
	}
	if info.Progress != nil {
		s.Bytes, s.TotalBytes = info.Progress()
	}
	if info.Details != nil {
		s.Details = info.Details()
	}
	s.Sources = make([]Source, len(m.Sources))
	for i, sm := range m.Sources {
		s.Records += sm.Records
		s.Sources[i] = Source{
			Source: sm.Source, Records: sm.Records,
			Busy: sm.Busy.Seconds(), Idle: sm.Idle.Seconds(), BackPressured: sm.BackPressured.Seconds(),
		}
	}
	s.Stages = make([]Stage, len(m.Operators))
	for i, om := range m.Operators {
		s.Stages[i] = Stage{
			Stage: om.Stage, Instance: om.Instance, RecordsIn: om.RecordsIn, RecordsOut: om.RecordsOut,
			Busy: om.Busy.Seconds(), Idle: om.Idle.Seconds(), BackPressured: om.BackPressured.Seconds(),
			Backlog: om.Backlog, Credits: om.Credits, QueueUsage: om.QueueUsage,
		}
	}
	for _, b := range p.Branches() {
		s.Branches = append(s.Branches, Branch{Name: b.Name, Stages: b.Stages, Records: b.Records, Skipped: b.Skipped})
	}
	if info.Shed != nil {
		s.Shedding = shedState(info.Shed, len(m.Sources))
	} else if info.Shedders != nil {
		s.Shedding = sheddersState(info.Shedders())
	}
	if cs, ok := checkpointState(p, info.Checkpoints); ok {
		s.Checkpoints = cs
	}
	return s
}

func shedState(g *shedding.Group, sources int) *Shedding {
	sum := g.Summary()
	sh := &Shedding{
		MinP: sum.MinP, MeanP: sum.MeanP, Seen: sum.Seen, Kept: sum.Kept, Shed: sum.Shed,
		ShedFraction: sum.Fraction(), KeepP: 1,
	}
	if sources > 0 {
		var p float64
		for i := range sources {
			sd := g.Shedder(i)
			p += sd.P()
			a, c := sd.Rates()
			sh.Arrival += a
			sh.Capacity += c
		}
		sh.KeepP = p / float64(sources)
	}
	return sh
}

// sheddersState sums the state of shedders as shedState does a group's.
func sheddersState(shs []*shedding.Shedder) *Shedding {
	var sum shedding.Summary
	sh := &Shedding{KeepP: 1}
	var p float64
	for _, sd := range shs {
		sum = sum.Merge(sd.Summary())
		p += sd.P()
		a, c := sd.Rates()
		sh.Arrival += a
		sh.Capacity += c
	}
	if len(shs) > 0 {
		sh.KeepP = p / float64(len(shs))
	}
	if sum.Seen == 0 {
		sum = shedding.Summary{MinP: 1, MeanP: 1, MeanInvP: 1}
	}
	sh.MinP, sh.MeanP, sh.Seen, sh.Kept, sh.Shed = sum.MinP, sum.MeanP, sum.Seen, sum.Kept, sum.Shed
	sh.ShedFraction = sum.Fraction()
	return sh
}

// checkpointState reads p's checkpoint counters; ok is false when p is not
// said to take checkpoints and none has completed, failed or begun.
func checkpointState(p Runtime, configured bool) (*Checkpoints, bool) {
	st := p.CheckpointStats()
	if !configured && st == (pipeline.CheckpointStats{}) {
		return nil, false
	}
	cs := &Checkpoints{
		Completed: st.Completed, Failed: st.Failed, Abandoned: st.Abandoned,
		InProgress: st.InProgress, LastID: st.LastID,
		LastDuration: st.LastDuration.Seconds(), LastAlignment: st.LastAlignment.Seconds(),
		LastPause: st.LastPause.Seconds(), LastSize: st.LastSize, Recent: []CheckpointRecord{},
	}
	if st.LastError != nil {
		cs.LastError = st.LastError.Error()
	}
	return cs, true
}

// rates fills rates, shares, health and the bottleneck from the counters
// of s and prev (nil: since the start of the run).
func (s *Snapshot) rates(prev *Snapshot) {
	dt := s.Uptime
	if prev != nil {
		dt = s.Uptime - prev.Uptime
		if !s.Time.After(prev.Time) || len(prev.Sources) != len(s.Sources) || len(prev.Stages) != len(s.Stages) {
			prev, dt = nil, s.Uptime
		}
	}
	s.Window = dt
	// Once Run has returned its clock stops: the rates are 0 since, and
	// the shares are those of the whole run rather than of nothing.
	whole := prev != nil && dt <= 0 && s.Uptime > 0
	if whole {
		s.Window = max(s.Time.Sub(prev.Time).Seconds(), 0)
	}
	shareOf := func(cur, old float64) float64 {
		if whole {
			return min(max(cur/s.Uptime, 0), 1)
		}
		if dt <= 0 {
			return 0
		}
		return min(max((cur-old)/dt, 0), 1)
	}
	per := func(x float64) float64 {
		if dt <= 0 {
			return 0
		}
		return x / dt
	}
	var records0 uint64
	for i := range s.Sources {
		c := &s.Sources[i]
		var q Source
		if prev != nil {
			q = prev.Sources[i]
		}
		records0 += q.Records
		c.OutPerSec = per(float64(c.Records - q.Records))
		c.BusyShare, c.IdleShare = shareOf(c.Busy, q.Busy), shareOf(c.Idle, q.Idle)
		c.BackPressuredShare = shareOf(c.BackPressured, q.BackPressured)
		c.Health = Health(c.BackPressuredShare)
	}
	s.RecordsPerSec = per(float64(s.Records - records0))
	best := 0.5 // a bottleneck is busy at least half the time
	for i := range s.Stages {
		c := &s.Stages[i]
		var q Stage
		if prev != nil {
			q = prev.Stages[i]
		}
		c.InPerSec, c.OutPerSec = per(float64(c.RecordsIn-q.RecordsIn)), per(float64(c.RecordsOut-q.RecordsOut))
		c.BusyShare, c.IdleShare = shareOf(c.Busy, q.Busy), shareOf(c.Idle, q.Idle)
		c.BackPressuredShare = shareOf(c.BackPressured, q.BackPressured)
		c.Health = Health(c.BackPressuredShare)
		if c.Health != HealthHigh && c.BusyShare >= best {
			best = c.BusyShare
			s.Bottleneck = c.Stage + "#" + strconv.Itoa(c.Instance)
		}
	}
	if sh := s.Shedding; sh != nil {
		var q Shedding
		// Shedders that come and go (Info.Shedders) may count less than
		// before: then the rates start over.
		if prev != nil && prev.Shedding != nil && sh.Seen >= prev.Shedding.Seen && sh.Shed >= prev.Shedding.Shed {
			q = *prev.Shedding
		}
		sh.ShedPerSec, sh.SeenPerSec = per(float64(sh.Shed-q.Shed)), per(float64(sh.Seen-q.Seen))
		if seen := sh.Seen - q.Seen; seen > 0 {
			sh.WindowFraction = float64(sh.Shed-q.Shed) / float64(seen)
		}
	}
	if s.Records > 0 && s.LastRecord.IsZero() && prev == nil {
		s.LastRecord = s.Time
	}
	if !s.LastRecord.IsZero() {
		s.SinceLastRecord = math.Max(s.Time.Sub(s.LastRecord).Seconds(), 0)
	}
}
