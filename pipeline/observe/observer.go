package observe

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// HistoryLen is the number of points an Observer's history keeps: ten
// minutes (HistoryWindow) at the Server's default tick of one second. A
// Server with another tick resizes it to cover HistoryWindow.
const HistoryLen = 600

// HistoryWindow is how far back the history of a Server goes.
const HistoryWindow = 10 * time.Minute

// Observer takes the snapshots of one pipeline in a series, so that each
// says what happened since the one before: rates and shares over the
// interval, the recent checkpoints, when the sources last produced a
// record, and a History of the last HistoryLen ticks.
//
// The zero value is not usable; make one with NewObserver. An Observer is
// safe for concurrent use; its methods never block the pipeline (answer
// is the caller's: pipeline.Query holds one operator instance at a time).
type Observer struct {
	p      Runtime
	info   Info
	answer func() any

	mu           sync.Mutex
	prev         *Snapshot
	started      time.Time
	lastRecord   time.Time
	recent       []CheckpointRecord // oldest first, at most RecentCheckpoints
	seenOK       uint64             // completed checkpoints accounted for in recent
	seenFailed   uint64
	lastRecorded uint64 // id of the newest checkpoint in recent
	done         bool
	err          error
	hist         *History
}

// NewObserver returns an Observer of p, a *pipeline.Pipeline or another
// Runtime. answer, if not nil, is called at each snapshot for
// Snapshot.Answer; it must be safe to call while p runs (pipeline.Query
// and QueryAs are).
func NewObserver(p Runtime, info Info, answer func() any) *Observer {
	return &Observer{p: p, info: info, answer: answer, hist: NewHistory(HistoryLen)}
}

// Done tells the Observer that Run returned with err: later snapshots say
// "finished" or "failed".
func (o *Observer) Done(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done, o.err = true, err
}

// CheckpointDone records a checkpoint that completed (err nil) or failed,
// with its duration, alignment and size. Pass it on from
// pipeline.CheckpointConfig.OnComplete to list every checkpoint, however
// many complete between two snapshots; without it the Observer sees the
// last checkpoint of each interval only.
func (o *Observer) CheckpointDone(m checkpoint.Manifest, err error) {
	st := o.p.CheckpointStats()
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.seenFailed++
		o.addCheckpoint(CheckpointRecord{ID: m.ID, Time: now, Error: err.Error()})
		return
	}
	r := CheckpointRecord{ID: m.ID, Time: now, OK: true, Size: m.Size()}
	// A tick between the checkpoint's completion and this call has
	// already listed it (pollCheckpoints) and counted it in seenOK: fill
	// in what this call knows better, rather than list it twice.
	if i := o.findOK(m.ID); i >= 0 {
		r.Time = o.recent[i].Time
		fillCheckpoint(&r, m, now, st)
		o.recent[i] = r
		return
	}
	o.seenOK++
	fillCheckpoint(&r, m, now, st)
	o.addCheckpoint(r)
}

// fillCheckpoint sets r's duration and alignment from the manifest and the stats.
func fillCheckpoint(r *CheckpointRecord, m checkpoint.Manifest, now time.Time, st pipeline.CheckpointStats) {
	if !m.Time.IsZero() {
		r.Duration = max(now.Sub(m.Time).Seconds(), 0)
	}
	if st.LastID == m.ID {
		r.Duration, r.Alignment = st.LastDuration.Seconds(), st.LastAlignment.Seconds()
	}
}

// findOK returns the index in recent of the completed checkpoint id, or -1.
func (o *Observer) findOK(id uint64) int {
	for i := len(o.recent) - 1; i >= 0; i-- {
		if o.recent[i].OK && o.recent[i].ID == id {
			return i
		}
	}
	return -1
}

func (o *Observer) addCheckpoint(r CheckpointRecord) {
	if r.OK {
		o.lastRecorded = r.ID
	}
	if len(o.recent) == RecentCheckpoints {
		copy(o.recent, o.recent[1:])
		o.recent = o.recent[:len(o.recent)-1]
	}
	o.recent = append(o.recent, r)
}

// Take returns a snapshot at now, with rates over the time since the
// previous Take, and adds a point to the history.
func (o *Observer) Take(now time.Time) Snapshot {
	s := take(o.p, o.info, now)
	var raw json.RawMessage
	if o.answer != nil {
		if b, err := json.Marshal(o.answer()); err == nil {
			raw = b
			s.Answer = raw
			s.Windows = windowsOf(raw)
		} else {
			s.Answer = map[string]string{"error": "answer: " + err.Error()}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started.IsZero() {
		o.started = s.Started
	}
	s.Started = o.started
	if o.done {
		s.State = "finished"
		if o.err != nil {
			s.State, s.Error = "failed", o.err.Error()
		}
	}
	prev := o.prev
	if prev == nil || s.Records > prev.Records {
		if s.Records > 0 {
			o.lastRecord = now
		}
	}
	s.LastRecord = o.lastRecord
	s.rates(prev)
	if cs := s.Checkpoints; cs != nil {
		o.pollCheckpoints(cs, now)
		cs.Recent = append(make([]CheckpointRecord, 0, len(o.recent)), o.recent...)
	}
	keep := s
	keep.Answer, keep.Windows, keep.Details = nil, nil, nil
	o.prev = &keep
	o.hist.add(pointOf(&s, raw))
	return s
}

// pollCheckpoints adds to recent what CheckpointDone did not hear of.
func (o *Observer) pollCheckpoints(cs *Checkpoints, now time.Time) {
	if cs.Completed > o.seenOK {
		o.seenOK = cs.Completed
		if cs.LastID != o.lastRecorded {
			o.addCheckpoint(CheckpointRecord{
				ID: cs.LastID, Time: now, OK: true, Duration: cs.LastDuration,
				Alignment: cs.LastAlignment, Size: cs.LastSize,
			})
		}
	}
	if cs.Failed > o.seenFailed {
		o.seenFailed = cs.Failed
		o.addCheckpoint(CheckpointRecord{Time: now, Error: cs.LastError})
	}
	for i := len(o.recent) - 1; i >= 0; i-- {
		if o.recent[i].OK {
			cs.LastCompleted = o.recent[i].Time
			break
		}
	}
}

// keepHistory makes the history keep the last n points (those kept so far
// are dropped).
func (o *Observer) keepHistory(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hist = NewHistory(n)
}

// History returns the points of the last HistoryLen snapshots, oldest
// first.
func (o *Observer) History() []Point {
	o.mu.Lock()
	h := o.hist
	o.mu.Unlock()
	return h.Points()
}
