package promexport

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/shedding"
)

// jobConfig describes a test job: sources generators of records each over
// keys keys, at rate records per second each (0: as fast as they go).
type jobConfig struct {
	sources       int
	records, keys int64
	rate          float64
	keepP         float64 // fixed key-hash keep probability; 0: no shedding
	checkpoints   time.Duration
}

// job is a pipeline with everything a snapshot can show: sources behind
// key-hash shedders, a fan-out into a "users" branch counting distinct keys
// (ThetaDistinct, which scales under key-hash shedding) and a "all" branch
// counting keys (CountMin), checkpoints, and an Observer wired to them.
type job struct {
	cfg   jobConfig
	p     *pipeline.Pipeline
	group *shedding.Group
	obs   *observe.Observer
	info  observe.Info
	last  atomic.Pointer[observe.Snapshot] // the Observer's last tick
}

func generators(t testing.TB, c jobConfig) []pipeline.Source {
	var srcs []pipeline.Source
	for i := range c.sources {
		g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: uint64(i + 1), Count: c.records, Keys: uint64(c.keys), Rate: c.rate})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, g)
	}
	return srcs
}

// exactDistinct counts the distinct keys of the job's sources.
func exactDistinct(t testing.TB, c jobConfig) int {
	c.rate = 0
	seen := map[string]bool{}
	for _, src := range generators(t, c) {
		var b pipeline.Batch
		for {
			b.Reset()
			err := src.Fill(context.Background(), &b, 1024)
			for i := range b.Len() {
				seen[string(b.Key(i))] = true
			}
			if err != nil {
				break
			}
		}
	}
	return len(seen)
}

func newJob(t testing.TB, c jobConfig) *job {
	t.Helper()
	j := &job{cfg: c}
	pc := pipeline.Config{}
	if c.keepP > 0 {
		g, err := shedding.NewGroup(shedding.Config{Policy: shedding.KeyHash, Controller: shedding.ControllerConfig{Fixed: c.keepP}})
		if err != nil {
			t.Fatal(err)
		}
		j.group, pc.NewShedder = g, g.NewShedder
		j.info.Shed = g
	}
	if c.checkpoints > 0 {
		store, err := checkpoint.NewDirStore(t.TempDir(), 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		pc.Checkpoint = &pipeline.CheckpointConfig{
			Store: store, Interval: c.checkpoints,
			OnComplete: func(m checkpoint.Manifest, err error) { j.obs.CheckpointDone(m, err) },
		}
		j.info.Checkpoints = true
	}
	p, err := pipeline.New(generators(t, c), []pipeline.Stage{{
		Name: "fan",
		Branches: []pipeline.Branch{
			{Name: "users", Stages: []pipeline.Stage{{
				Name: "distinct", Input: pipeline.ByKey, Parallelism: 2,
				New: func(int) (pipeline.Operator, error) { return &shedding.Distinct{}, nil },
			}}},
			{Name: "all", Stages: []pipeline.Stage{{
				Name: "freq", Input: pipeline.RoundRobin, Parallelism: 2,
				New: func(int) (pipeline.Operator, error) { return &shedding.Frequency{}, nil },
			}}},
		},
	}}, pc)
	if err != nil {
		t.Fatal(err)
	}
	j.p = p
	j.info.Job = "test"
	j.info.Version = "v0.0.0-test"
	j.info.Inputs = []string{"generator"}
	total := int64(c.sources) * c.records * 8
	j.info.Progress = func() (int64, int64) {
		var n int64
		for _, s := range p.Metrics().Sources {
			n += int64(s.Records) * 8
		}
		return n, total
	}
	j.obs = observe.NewObserver(p, j.info, j.answer)
	return j
}

// answer is the distinct count of the users branch, spelled as the CLI's
// distinct prints it.
func (j *job) answer() any {
	var th shedding.ThetaDistinct
	err := pipeline.QueryAs(j.p, j.p.BranchStage("users", 0), func(_ int, op *shedding.Distinct) error {
		if op.Theta == nil {
			return nil
		}
		return th.Merge(op.Theta)
	})
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	if j.group != nil {
		if err := th.LowerTheta(j.group.Summary().MinP); err != nil {
			return map[string]string{"error": err.Error()}
		}
	}
	e := th.Estimate()
	type distinct struct {
		Distinct float64 `json:"distinct"`
		Lower    float64 `json:"lower"`
		Upper    float64 `json:"upper"`
	}
	return map[string]any{"users": distinct{e.Value, e.Lower, e.Upper}}
}

// run runs the job to its end, the Observer ticking every tick, and
// returns Run's error.
func (j *job) run(tick time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				j.tick()
			}
		}
	}()
	err := j.p.Run(context.Background())
	cancel()
	<-done
	j.obs.Done(err)
	j.tick()
	return err
}

// tick takes the Observer's next snapshot, as an observe.Server does.
func (j *job) tick() {
	s := j.obs.Take(time.Now())
	j.last.Store(&s)
}

// latest is a snapshot source that reads the Observer's last tick, as the
// CLI's /metrics beside the page does.
func (j *job) latest() observe.Snapshot {
	if s := j.last.Load(); s != nil {
		return *s
	}
	return j.fresh()
}

// fresh is a snapshot source that reads the pipeline now, without the
// Observer's series (observe.Take).
func (j *job) fresh() observe.Snapshot {
	return observe.Take(j.p, j.info, j.answer, time.Now())
}

// checkJSON fails if s does not marshal: a scrape and the page read the
// same value.
func checkJSON(t testing.TB, s observe.Snapshot) {
	t.Helper()
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}
