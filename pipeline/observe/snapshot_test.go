package observe

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// topJob is a finished pipeline: a generator of n records into a top-k of
// capacity k at parallelism par.
func topJob(t testing.TB, n int64, k, par int, cfg pipeline.Config) *pipeline.Pipeline {
	return topJobAt(t, n, 0, k, par, cfg)
}

// topJobAt is topJob with sources producing rate records per second (0:
// as fast as they are pulled).
func topJobAt(t testing.TB, n int64, rate float64, k, par int, cfg pipeline.Config) *pipeline.Pipeline {
	t.Helper()
	var srcs []pipeline.Source
	for i := range par {
		g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: uint64(i + 1), Count: n, Keys: uint64(4 * k), Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, g)
	}
	p, err := pipeline.New(srcs, []pipeline.Stage{{
		Name: "top", Input: pipeline.ByKey, Parallelism: par,
		New: func(int) (pipeline.Operator, error) {
			tk, err := sketch.NewTopK(k)
			return &pipeline.HeavyHitters{TopK: tk}, err
		},
	}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// topAnswer is a top-k answer as a CLI prints it.
func topAnswer(p *pipeline.Pipeline, k int) func() any {
	return func() any {
		var all sketch.TopK
		_ = pipeline.QueryAs(p, 0, func(_ int, op *pipeline.HeavyHitters) error { return all.Merge(op.TopK) })
		type item struct {
			Key          string `json:"key"`
			Count        uint64 `json:"count"`
			Lower, Upper uint64
		}
		var items []item
		for _, it := range all.Top(k) {
			items = append(items, item{Key: string(it.Key), Count: it.Count, Lower: it.Lower, Upper: it.Upper})
		}
		return map[string]any{"items": items}
	}
}

func TestTakeCountsFinishedRun(t *testing.T) {
	p := topJob(t, 5000, 10, 2, pipeline.Config{})
	before := Take(p, Info{Job: "top"}, nil, time.Now())
	if before.Records != 0 || !before.Started.IsZero() || before.SinceLastRecord != -1 {
		t.Errorf("before Run: records %d started %v since %v", before.Records, before.Started, before.SinceLastRecord)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := Take(p, Info{Job: "top", Inputs: []string{"gen"}, Version: "v1"}, topAnswer(p, 10), time.Now())
	if s.Job != "top" || s.Version != "v1" || s.Records != 10000 {
		t.Fatalf("job %q version %q records %d, want top v1 10000", s.Job, s.Version, s.Records)
	}
	if len(s.Sources) != 2 || len(s.Stages) != 2 {
		t.Fatalf("%d sources %d stages, want 2 and 2", len(s.Sources), len(s.Stages))
	}
	var in uint64
	for _, st := range s.Stages {
		in += st.RecordsIn
		if st.Health == "" || st.BusyShare+st.IdleShare+st.BackPressuredShare > 1.0001*3 {
			t.Errorf("stage %+v", st)
		}
	}
	if in != 10000 {
		t.Errorf("stages took %d records, want 10000", in)
	}
	if s.Checkpoints != nil || s.Shedding != nil {
		t.Errorf("checkpoints %v shedding %v without either", s.Checkpoints, s.Shedding)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	items := back["answer"].(map[string]any)["items"].([]any)
	if len(items) != 10 {
		t.Errorf("answer has %d items, want 10", len(items))
	}
}

func TestHealth(t *testing.T) {
	for _, c := range []struct {
		bp   float64
		want string
	}{{0, HealthOK}, {0.1, HealthOK}, {0.11, HealthLow}, {0.5, HealthLow}, {0.51, HealthHigh}, {1, HealthHigh}} {
		if got := Health(c.bp); got != c.want {
			t.Errorf("Health(%v) = %s, want %s", c.bp, got, c.want)
		}
	}
}

func TestObserverCheckpointsAndFreshness(t *testing.T) {
	store, err := checkpoint.NewDirStore(t.TempDir(), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	var o *Observer
	cfg := pipeline.Config{Checkpoint: &pipeline.CheckpointConfig{Store: store, OnComplete: func(m checkpoint.Manifest, err error) { o.CheckpointDone(m, err) }}}
	p := topJobAt(t, 0, 1e5, 10, 1, cfg) // no end: stopped after 3 checkpoints
	o = NewObserver(p, Info{Job: "top", Checkpoints: true}, topAnswer(p, 5))
	s0 := o.Take(time.Now())
	if s0.Checkpoints == nil || s0.Checkpoints.Completed != 0 {
		t.Fatalf("before Run: checkpoints %+v", s0.Checkpoints)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); p.CheckpointStats().Completed < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("3 checkpoints not done in 30 s: %+v", p.CheckpointStats())
		}
		_, _ = p.Checkpoint() // busy while one is in progress
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	o.Done(nil)
	s := o.Take(time.Now())
	if s.State != "finished" {
		t.Errorf("state %q, want finished", s.State)
	}
	cs := s.Checkpoints
	if cs.Completed < 3 || len(cs.Recent) != int(cs.Completed) || cs.LastCompleted.IsZero() {
		t.Fatalf("completed %d, recent %d, last %v", cs.Completed, len(cs.Recent), cs.LastCompleted)
	}
	for _, r := range cs.Recent {
		if !r.OK || r.Size <= 0 || r.Duration < 0 {
			t.Errorf("recent %+v", r)
		}
	}
	if s.LastRecord.IsZero() || s.SinceLastRecord < 0 {
		t.Errorf("last record %v since %v", s.LastRecord, s.SinceLastRecord)
	}
	if s.RecordsPerSec <= 0 {
		t.Errorf("records/s %v", s.RecordsPerSec)
	}
	h := o.History()
	if len(h) != 2 {
		t.Errorf("history has %d points, want 2", len(h))
	}
}

func TestBandsFromAnswers(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       []Band
	}{
		{"distinct", `{"distinct":10,"lower":9,"upper":12,"records":30}`, []Band{{"distinct", 10, 9, 12}}},
		{"stats mean", `{"mean":1.5,"mean_lower":1,"mean_upper":2,"quantiles":[]}`, []Band{{"mean", 1.5, 1, 2}}},
		{"branches", `{"users":{"distinct":3,"lower":3,"upper":4},"pages":{"items":[]}}`, []Band{{"users.distinct", 3, 3, 4}}},
		{"top has none", `{"items":[{"key":"a","count":1,"lower":1,"upper":1}]}`, nil},
		{"not an object", `[1,2]`, nil},
		{"bounds not numbers", `{"distinct":"x","lower":1,"upper":2}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := bands(json.RawMessage(c.json), "", 2, nil)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("got %v, want %v", got[i], c.want[i])
				}
			}
		})
	}
}

func TestHistoryRing(t *testing.T) {
	h := NewHistory(3)
	t0 := time.Unix(0, 0)
	for i := range 5 {
		h.add(Point{Time: t0.Add(time.Duration(i) * time.Second)})
	}
	ps := h.Points()
	if len(ps) != 3 || ps[0].Time.Unix() != 2 || ps[2].Time.Unix() != 4 {
		t.Errorf("points %v, want seconds 2, 3, 4", ps)
	}
}

func pipelineConfig() pipeline.Config { return pipeline.Config{} }

// marshalSnapshot splices the answer in: the same JSON as json.Marshal.
func TestMarshalSnapshotSplicesAnswer(t *testing.T) {
	raw, err := json.Marshal(map[string]any{"items": []map[string]any{{"key": "a<b\n", "count": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	s := Snapshot{Job: "top", State: "running", Answer: json.RawMessage(raw)} // as the Observer marshals it
	got, err := marshalSnapshot(&s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// oldBands is bands through encoding/json, the reference for FuzzBands.
func oldBands(raw json.RawMessage, prefix string, depth int, out []Band) []Band {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return out
	}
	num := func(k string) (float64, bool) {
		var f float64
		v, ok := obj[k]
		return f, ok && len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') && json.Unmarshal(v, &f) == nil
	}
	for _, f := range bandFields {
		v, ok1 := num(f.value)
		lo, ok2 := num(f.lower)
		hi, ok3 := num(f.upper)
		if ok1 && ok2 && ok3 {
			name := f.name
			if prefix != "" {
				name = prefix + "." + name
			}
			out = append(out, Band{Name: name, Value: v, Lower: lo, Upper: hi})
		}
	}
	if depth > 1 {
		var keys []string
		for k, v := range obj {
			if len(v) > 0 && v[0] == '{' {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			out = oldBands(obj[k], name, depth-1, out)
		}
	}
	return out
}

// The shallow scan finds what encoding/json finds in valid JSON, and
// never panics on anything else.
func FuzzBands(f *testing.F) {
	for _, s := range []string{
		`{"distinct":10,"lower":9,"upper":12,"records":30}`,
		`{"users":{"distinct":3,"lower":3,"upper":4},"pages":{"items":[{"key":"}\"{","count":1}]}}`,
		`{"mean":1.5,"mean_lower":1e-3,"mean_upper":-2,"quantiles":[[],{}]}`,
		`{"a":{"b":{"value":1,"lower":0,"upper":2}}}`, `{`, `{"a":`, `[1]`, `{"a":"\u00e9\\"}`, ` { } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := bands(data, "", 3, nil)
		if !json.Valid(data) {
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return
		}
		// Duplicate keys: encoding/json keeps the last, the scan too (a
		// map); duplicate objects differ (the scan visits each).
		if dup := strings.Count(string(data), `":`); dup > len(obj)*8+8 {
			return
		}
		want := oldBands(data, "", 3, nil)
		if !slices.Equal(got, want) {
			t.Errorf("bands(%s) = %v, want %v", data, got, want)
		}
	})
}

// After Run returns, an Observer's rates are 0 and its shares those of the
// whole run (busy, idle and back-pressured add up to the run).
func TestObserverAfterRun(t *testing.T) {
	p := topJob(t, 20000, 10, 2, pipelineConfig())
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := NewObserver(p, Info{}, nil)
	t0 := time.Now()
	o.Take(t0)
	s := o.Take(t0.Add(time.Second))
	if s.RecordsPerSec != 0 || s.Window != 1 {
		t.Errorf("records/s %v over %v s, want 0 over 1", s.RecordsPerSec, s.Window)
	}
	for _, st := range s.Stages {
		if sum := st.BusyShare + st.IdleShare + st.BackPressuredShare; st.InPerSec != 0 || sum < 0.99 || sum > 1.01 {
			t.Errorf("%s#%d: in/s %v, shares add up to %v, want 0 and 1", st.Stage, st.Instance, st.InPerSec, sum)
		}
	}
}

// TestObserverListsCheckpointOnce: a tick that polls between a
// checkpoint's completion and its OnComplete lists it; CheckpointDone
// must then complete that entry, not list the checkpoint a second time.
func TestObserverListsCheckpointOnce(t *testing.T) {
	store, err := checkpoint.NewDirStore(t.TempDir(), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	var o *Observer
	cfg := pipeline.Config{Checkpoint: &pipeline.CheckpointConfig{Store: store, OnComplete: func(m checkpoint.Manifest, err error) {
		o.Take(time.Now()) // the tick that comes in between
		o.CheckpointDone(m, err)
	}}}
	p := topJobAt(t, 0, 1e5, 10, 1, cfg)
	o = NewObserver(p, Info{Job: "top", Checkpoints: true}, topAnswer(p, 5))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); p.CheckpointStats().Completed < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("3 checkpoints not done in 30 s: %+v", p.CheckpointStats())
		}
		_, _ = p.Checkpoint()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	cs := o.Take(time.Now()).Checkpoints
	seen := map[uint64]bool{}
	for _, r := range cs.Recent {
		if seen[r.ID] {
			t.Errorf("checkpoint %d listed twice: %+v", r.ID, cs.Recent)
		}
		seen[r.ID] = true
	}
	if len(cs.Recent) != int(cs.Completed) {
		t.Errorf("%d listed, %d completed", len(cs.Recent), cs.Completed)
	}
}
