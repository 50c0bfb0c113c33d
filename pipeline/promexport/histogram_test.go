package promexport

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/streamstat/streamstat/pipeline/observe"
)

// histogramOf collects c once and returns its checkpoint duration
// histogram.
func histogramOf(t *testing.T, c *Collector) *dto.Histogram {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "streamstat_checkpoint_duration_seconds" {
			return f.Metric[0].Histogram
		}
	}
	t.Fatal("no streamstat_checkpoint_duration_seconds")
	return nil
}

// TestHistogramCountsEachCheckpointOnce feeds the Collector a series of
// snapshots as an Observer would list checkpoints, and one as observe.Take
// (no list): every completed checkpoint is counted once, in the bucket
// whose bound it does not exceed; failed ones never.
func TestHistogramCountsEachCheckpointOnce(t *testing.T) {
	ok := func(id uint64, d float64) observe.CheckpointRecord {
		return observe.CheckpointRecord{ID: id, OK: true, Duration: d}
	}
	failed := observe.CheckpointRecord{ID: 3, Error: "disk full"}
	steps := []struct {
		name    string
		cp      observe.Checkpoints
		count   uint64
		sum     float64
		buckets map[float64]uint64 // cumulative, at some bounds
	}{
		{"first two listed",
			observe.Checkpoints{Completed: 2, LastID: 2, LastDuration: 0.3, Recent: []observe.CheckpointRecord{ok(1, 0.002), ok(2, 0.3)}},
			2, 0.302, map[float64]uint64{0.001: 0, 0.0025: 1, 0.25: 1, 0.5: 2, 300: 2}},
		{"same list again counts nothing",
			observe.Checkpoints{Completed: 2, LastID: 2, LastDuration: 0.3, Recent: []observe.CheckpointRecord{ok(1, 0.002), ok(2, 0.3)}},
			2, 0.302, map[float64]uint64{0.0025: 1, 0.5: 2}},
		{"a failure and one on a bound (le is inclusive)",
			observe.Checkpoints{Completed: 3, Failed: 1, LastID: 4, LastDuration: 0.0025, Recent: []observe.CheckpointRecord{ok(1, 0.002), ok(2, 0.3), failed, ok(4, 0.0025)}},
			3, 0.3045, map[float64]uint64{0.001: 0, 0.0025: 2, 0.5: 3}},
		{"no list (observe.Take): the last one from LastDuration",
			observe.Checkpoints{Completed: 4, Failed: 1, LastID: 5, LastDuration: 400},
			4, 400.3045, map[float64]uint64{0.0025: 2, 0.5: 3, 300: 3}},
		{"no list, nothing new",
			observe.Checkpoints{Completed: 4, Failed: 1, LastID: 5, LastDuration: 400},
			4, 400.3045, map[float64]uint64{300: 3}},
		{"a list that rolled past the counted ones",
			observe.Checkpoints{Completed: 6, Failed: 1, LastID: 7, LastDuration: 1, Recent: []observe.CheckpointRecord{ok(5, 400), ok(6, 0.05), ok(7, 1)}},
			6, 401.3545, map[float64]uint64{0.025: 2, 0.05: 3, 1: 5, 300: 5}},
	}
	var cur observe.Checkpoints
	c := newCollector(t, func() observe.Snapshot { cp := cur; return observe.Snapshot{Checkpoints: &cp} })
	for _, st := range steps {
		t.Run(strings.ReplaceAll(st.name, " ", "_"), func(t *testing.T) {
			cur = st.cp
			h := histogramOf(t, c)
			if h.GetSampleCount() != st.count || math.Abs(h.GetSampleSum()-st.sum) > 1e-9 {
				t.Errorf("count %d sum %v, want %d and %v", h.GetSampleCount(), h.GetSampleSum(), st.count, st.sum)
			}
			for _, b := range h.Bucket {
				if want, ok := st.buckets[b.GetUpperBound()]; ok && b.GetCumulativeCount() != want {
					t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
				}
			}
		})
	}
}

func TestNewRefusesBadBuckets(t *testing.T) {
	snap := func() observe.Snapshot { return observe.Snapshot{} }
	for _, b := range [][]float64{{0, 1}, {1, 1}, {2, 1}, {1, math.Inf(1)}, {math.NaN()}, {-1}} {
		if _, err := New(snap, Config{Buckets: b}); !errors.Is(err, ErrBuckets) {
			t.Errorf("buckets %v: error %v, want ErrBuckets", b, err)
		}
	}
	c, err := New(snap, Config{Buckets: []float64{0.5, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.bounds, []float64{0.5, 2}) {
		t.Errorf("bounds %v", c.bounds)
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("no error for a nil snapshot function")
	}
}

// TestOnlyWhatTheJobHas: a job without shedding, checkpoints, fan-out or
// a distinct answer reports none of their metrics (no false zeros), and
// the Collector registers nowhere by itself.
func TestOnlyWhatTheJobHas(t *testing.T) {
	c := newCollector(t, func() observe.Snapshot { return observe.Snapshot{Job: "bare", State: "running"} })
	_, fams := scrape(t, c)
	for _, absent := range []string{
		"streamstat_keep_probability", "streamstat_records_shed_total", "streamstat_checkpoints_total",
		"streamstat_checkpoint_duration_seconds", "streamstat_distinct_estimate", "streamstat_branch_records_total",
		"streamstat_input_size_bytes", "streamstat_last_record_timestamp_seconds", "streamstat_start_timestamp_seconds",
	} {
		if fams[absent] != nil {
			t.Errorf("%s reported for a job without it", absent)
		}
	}
	if fams["streamstat_build_info"] == nil || fams["streamstat_records_read_total"] == nil {
		t.Error("build_info or records_read_total missing")
	}
	got, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if strings.HasPrefix(f.GetName(), "streamstat_") {
			t.Errorf("%s in the default registry", f.GetName())
		}
	}
}

func TestDistinctEstimatesFromAnswers(t *testing.T) {
	type est struct {
		Distinct uint64 `json:"distinct"`
		Lower    uint64 `json:"lower"`
		Upper    uint64 `json:"upper"`
	}
	for _, tc := range []struct {
		name   string
		answer any
		want   []estimate
	}{
		{"cli distinct", est{10, 9, 12}, []estimate{{"distinct", 10, 9, 12}}},
		{"raw json from an Observer", []byte(`{"distinct": 5, "lower": 4, "upper": 6, "items": [{"key": "k"}]}`), []estimate{{"distinct", 5, 4, 6}}},
		{"one object down", map[string]any{"users": est{7, 6, 8}, "pages": map[string]int{"n": 1}}, []estimate{{"users.distinct", 7, 6, 8}}},
		{"not an estimate (top-k item bounds)", map[string]any{"items": []map[string]any{{"key": "k", "lower": 1, "upper": 2}}}, nil},
		{"missing bound", map[string]any{"distinct": 3, "lower": 2}, nil},
		{"not an object", []int{1, 2}, nil},
		{"no answer", nil, nil},
		{"unmarshalable", func() {}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := distinctEstimates(tc.answer); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestInvalidUTF8Names: stage, branch and version strings are the
// caller's; one that is not valid UTF-8 is repaired, not a failed scrape
// or a panic.
func TestInvalidUTF8Names(t *testing.T) {
	c := newCollector(t, func() observe.Snapshot {
		return observe.Snapshot{
			Job: "j\xff", Version: "v\xfe", State: "running",
			Stages:   []observe.Stage{{Stage: "st\xc3", Instance: 0, RecordsIn: 7}},
			Branches: []observe.Branch{{Name: "b\xff", Records: 3}},
		}
	})
	_, fams := scrape(t, c)
	v := values(fams)
	if v["streamstat_records_in_total{stage=st\uFFFD,subtask=0}"] != 7 || v["streamstat_branch_records_total{branch=b\uFFFD}"] != 3 {
		t.Errorf("got %v", v)
	}
}

// FuzzDistinctEstimates: any answer bytes give estimates named by where
// they are, or none; never a panic.
func FuzzDistinctEstimates(f *testing.F) {
	for _, s := range []string{`{"distinct":1,"lower":0,"upper":2}`, `{"users":{"distinct":1,"lower":0,"upper":2}}`, `[1]`, `{"distinct":"x"}`, ``, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range distinctEstimates(b) {
			if !strings.HasSuffix(e.Name, "distinct") {
				t.Errorf("estimate named %q", e.Name)
			}
		}
	})
}
