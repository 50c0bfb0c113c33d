package grafana

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/pipeline/promexport"
	"github.com/streamstat/streamstat/shedding"
)

// The dashboard, as far as this test reads it: decoding refuses any field
// not declared here, so a field the test does not know (an __inputs
// section, a panel option misspelled at the top level) fails it.
type dashboard struct {
	Annotations          json.RawMessage `json:"annotations"`
	Description          string          `json:"description"`
	Editable             bool            `json:"editable"`
	FiscalYearStartMonth int             `json:"fiscalYearStartMonth"`
	GraphTooltip         int             `json:"graphTooltip"`
	ID                   *int            `json:"id"`
	Links                []any           `json:"links"`
	Panels               []panel         `json:"panels"`
	Refresh              string          `json:"refresh"`
	SchemaVersion        int             `json:"schemaVersion"`
	Tags                 []string        `json:"tags"`
	Templating           struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Time struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Timepicker struct{} `json:"timepicker"`
	Timezone   string   `json:"timezone"`
	Title      string   `json:"title"`
	UID        string   `json:"uid"`
	Version    int      `json:"version"`
	WeekStart  string   `json:"weekStart"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Type        string          `json:"type"`
	Datasource  *datasource     `json:"datasource"`
	Definition  string          `json:"definition"`
	Query       json.RawMessage `json:"query"` // a string for type datasource, an object for type query
	Current     struct{}        `json:"current"`
	Hide        int             `json:"hide"`
	IncludeAll  bool            `json:"includeAll"`
	AllValue    string          `json:"allValue"`
	Multi       bool            `json:"multi"`
	Options     []any           `json:"options"`
	Refresh     int             `json:"refresh"`
	Regex       string          `json:"regex"`
	SkipURLSync bool            `json:"skipUrlSync"`
	Sort        int             `json:"sort"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Collapsed   bool        `json:"collapsed"`
	Panels      []panel     `json:"panels"` // a row's, when collapsed
	Datasource  *datasource `json:"datasource"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Datasource   *datasource `json:"datasource"`
		Expr         string      `json:"expr"`
		LegendFormat string      `json:"legendFormat"`
		RefID        string      `json:"refId"`
		Range        bool        `json:"range"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit       string         `json:"unit"`
			Min        *float64       `json:"min"`
			Max        *float64       `json:"max"`
			Thresholds map[string]any `json:"thresholds"`
			Color      map[string]any `json:"color"`
			Custom     map[string]any `json:"custom"`
		} `json:"defaults"`
		Overrides []any `json:"overrides"`
	} `json:"fieldConfig"`
	Options map[string]any `json:"options"`
}

// rows are the rows of the job's live page, in its order.
var rows = []string{"Status", "Throughput", "Stage health", "Load shedding", "Checkpoints", "Answer", "Freshness"}

func readDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile("streamstat.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("streamstat.json: %v", err)
	}
	if dec.More() {
		t.Fatal("streamstat.json: more than one JSON value")
	}
	return d, raw
}

var (
	metricName = regexp.MustCompile(`\bstreamstat_[a-z0-9_]+`)
	rangeVec   = regexp.MustCompile(`\[[^\]]*\]`)
	rateCall   = regexp.MustCompile(`\b(rate|irate|increase|delta|idelta|deriv)\(`)
)

// TestDashboardRules checks the rules a provisioned dashboard must keep:
// classic model at schemaVersion 42; a datasource variable (no ${DS_...}
// inputs, which file provisioning cannot fill) that every panel and query
// uses; job and instance variables that every metric selector filters by;
// rates over $__rate_interval; a unit on every panel; the rows of the
// page, in order; ids unique and panels inside the 24-column grid.
func TestDashboardRules(t *testing.T) {
	d, raw := readDashboard(t)
	if d.SchemaVersion != 42 {
		t.Errorf("schemaVersion %d, want 42", d.SchemaVersion)
	}
	if bytes.Contains(raw, []byte("${DS_")) || bytes.Contains(raw, []byte("__inputs")) {
		t.Error("dashboard uses ${DS_...} inputs; file provisioning cannot fill them: use the datasource variable")
	}
	if d.UID == "" || d.Title == "" || d.ID != nil {
		t.Errorf("uid %q title %q id %v: want a uid, a title and a null id", d.UID, d.Title, d.ID)
	}

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("datasource variable %+v: want type datasource, query prometheus", v)
	}
	for _, name := range []string{"job", "instance"} {
		v := vars[name]
		if v.Type != "query" || v.Datasource == nil || v.Datasource.UID != "${datasource}" {
			t.Errorf("variable %s %+v: want a query on ${datasource}", name, v)
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil || !strings.Contains(q.Query, "label_values(streamstat_") || !strings.HasSuffix(q.Query, ", "+name+")") {
			t.Errorf("variable %s query %s: want label_values of a streamstat metric's %s", name, v.Query, name)
		}
	}

	var got []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if g := p.GridPos; g.W < 1 || g.X < 0 || g.X+g.W > 24 || g.H < 1 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
		}
		if p.Type == "row" {
			got = append(got, p.Title)
			if p.Collapsed || len(p.Panels) > 0 {
				t.Errorf("row %q is collapsed: its panels would hide from this test", p.Title)
			}
			continue
		}
		checkPanel(t, p)
	}
	if !slices.Equal(got, rows) {
		t.Errorf("rows %q, want the page's %q", got, rows)
	}
}

func checkPanel(t *testing.T, p panel) {
	t.Helper()
	if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
		t.Errorf("panel %q: datasource %+v, want uid ${datasource}", p.Title, p.Datasource)
	}
	if p.FieldConfig.Defaults.Unit == "" {
		t.Errorf("panel %q has no unit", p.Title)
	}
	if p.Title == "" || p.Description == "" {
		t.Errorf("panel %d: title %q description %q, want both", p.ID, p.Title, p.Description)
	}
	if len(p.Targets) == 0 {
		t.Errorf("panel %q has no query", p.Title)
	}
	for _, q := range p.Targets {
		if q.Datasource == nil || q.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q query %s: datasource %+v, want uid ${datasource}", p.Title, q.RefID, q.Datasource)
		}
		e := q.Expr
		for _, r := range rangeVec.FindAllString(e, -1) {
			if r != "[$__rate_interval]" {
				t.Errorf("panel %q: range %s in %s, want [$__rate_interval]", p.Title, r, e)
			}
		}
		if rateCall.MatchString(e) && !strings.Contains(e, "[$__rate_interval]") {
			t.Errorf("panel %q: %s takes a rate without [$__rate_interval]", p.Title, e)
		}
		locs := metricName.FindAllStringIndex(e, -1)
		if len(locs) == 0 {
			t.Errorf("panel %q: %s names no streamstat metric", p.Title, e)
		}
		for _, l := range locs {
			sel, _, _ := strings.Cut(e[l[1]:], "}")
			if !strings.HasPrefix(sel, `{job=~"$job",instance=~"$instance"`) {
				t.Errorf("panel %q: %s in %s does not select job=~\"$job\",instance=~\"$instance\"", p.Title, e[l[0]:l[1]], e)
			}
		}
	}
}

// queried returns the metric names the dashboard's queries name, with a
// histogram's _bucket, _sum and _count series under the histogram's name.
func queried(d dashboard) []string {
	seen := map[string]bool{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, n := range metricName.FindAllString(q.Expr, -1) {
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(n, suf); ok && strings.HasSuffix(base, "_seconds") {
						n = base
					}
				}
				seen[n] = true
			}
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for n := range seen {
			if !yield(n) {
				return
			}
		}
	})
}

// TestDashboardMetricsServed runs real pipelines (one shedding and fanned
// out, one taking checkpoints, as an Observer watches them), scrapes their
// promexport collectors, and checks that every metric the dashboard
// queries is served, with the type its query needs.
func TestDashboardMetricsServed(t *testing.T) {
	d, _ := readDashboard(t)
	served := map[string]string{} // name -> type
	for _, j := range []jobSpec{{shed: true, fanout: true}, {checkpoints: true}} {
		for name, typ := range scrapeJob(t, j) {
			served[name] = typ
		}
	}
	for _, n := range queried(d) {
		typ, ok := served[n]
		switch {
		case !ok:
			t.Errorf("the dashboard queries %s, which /metrics does not serve", n)
		case strings.HasSuffix(n, "_total") && typ != "COUNTER":
			t.Errorf("%s is a %s; the dashboard takes its rate as a counter's", n, typ)
		case n == "streamstat_checkpoint_duration_seconds" && typ != "HISTOGRAM":
			t.Errorf("%s is a %s, not a histogram", n, typ)
		}
	}
	if len(queried(d)) < 25 {
		t.Errorf("the dashboard queries only %d metrics", len(queried(d)))
	}
}

type jobSpec struct{ shed, fanout, checkpoints bool }

// scrapeJob runs a small job and returns the families its collector
// serves, by name and type.
func scrapeJob(t *testing.T, spec jobSpec) map[string]string {
	t.Helper()
	var srcs []pipeline.Source
	for i := range 2 {
		g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: uint64(i + 1), Count: 20_000, Keys: 2_000, Rate: 200_000})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, g)
	}
	var cfg pipeline.Config
	info := observe.Info{Job: "grafana-test", Version: "test"}
	if spec.shed {
		g, err := shedding.NewGroup(shedding.Config{Policy: shedding.KeyHash, Controller: shedding.ControllerConfig{Fixed: 0.5}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.NewShedder, info.Shed = g.NewShedder, g
	}
	var obs *observe.Observer
	if spec.checkpoints {
		store, err := checkpoint.NewDirStore(t.TempDir(), 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Checkpoint = &pipeline.CheckpointConfig{Store: store, Interval: 5 * time.Millisecond,
			OnComplete: func(m checkpoint.Manifest, err error) { obs.CheckpointDone(m, err) }}
		info.Checkpoints = true
	}
	distinct := pipeline.Stage{
		Name: "distinct", Input: pipeline.ByKey, Parallelism: 2,
		New: func(int) (pipeline.Operator, error) { return &shedding.Distinct{}, nil },
	}
	stages := []pipeline.Stage{distinct}
	if spec.fanout {
		stages = []pipeline.Stage{{Name: "fan", Branches: []pipeline.Branch{
			{Name: "users", Stages: stages},
			{Name: "all", Stages: []pipeline.Stage{{Name: "freq", Input: pipeline.RoundRobin, Parallelism: 2,
				New: func(int) (pipeline.Operator, error) { return &shedding.Frequency{}, nil }}}},
		}}}
	}
	p, err := pipeline.New(srcs, stages, cfg)
	if err != nil {
		t.Fatal(err)
	}
	info.Progress = func() (int64, int64) { return 100, 1000 }
	answer := func() any {
		var th shedding.ThetaDistinct
		_ = pipeline.QueryAs(p, 0, func(_ int, op *shedding.Distinct) error {
			if op.Theta == nil {
				return nil
			}
			return th.Merge(op.Theta)
		})
		e := th.Estimate()
		return map[string]float64{"distinct": e.Value, "lower": e.Lower, "upper": e.Upper}
	}
	obs = observe.NewObserver(p, info, answer)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	obs.Done(nil)
	last := obs.Take(time.Now())
	c, err := promexport.New(func() observe.Snapshot { return last }, promexport.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range fams {
		out[f.GetName()] = f.GetType().String()
	}
	return out
}

// TestProvisioning checks that the provisioning files and prometheus.yml
// agree with each other and with the README's commands: the datasource is
// Prometheus where prometheus.yml's server listens, the dashboard provider
// reads the folder the README mounts streamstat.json into, and Prometheus
// scrapes the address the README serves --http on. (No YAML parser in the
// module: the files are read line by line.)
func TestProvisioning(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ds := read("provisioning/datasources/prometheus.yaml")
	dash := read("provisioning/dashboards/streamstat.yaml")
	prom := read("prometheus.yml")
	readme := read("README.md")
	for _, c := range []struct{ file, text, want string }{
		{"datasource", ds, "apiVersion: 1"},
		{"datasource", ds, "type: prometheus"},
		{"datasource", ds, "url: http://localhost:9090"},
		{"dashboards", dash, "apiVersion: 1"},
		{"dashboards", dash, "type: file"},
		{"dashboards", dash, "path: /var/lib/grafana/dashboards/streamstat"},
		{"prometheus.yml", prom, "metrics_path: /metrics"},
		{"prometheus.yml", prom, `targets: ["127.0.0.1:8080"]`},
		{"README", readme, "/var/lib/grafana/dashboards/streamstat/streamstat.json"},
		{"README", readme, "/etc/grafana/provisioning"},
		{"README", readme, "--http 127.0.0.1:8080"},
		{"README", readme, "--network host"},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("%s lacks %q", c.file, c.want)
		}
	}
	for name, text := range map[string]string{"datasource": ds, "dashboards": dash, "prometheus.yml": prom} {
		if strings.Contains(text, "\t") {
			t.Errorf("%s has a tab: YAML indents with spaces", name)
		}
	}
}
