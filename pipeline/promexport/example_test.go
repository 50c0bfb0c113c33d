package promexport_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/pipeline/promexport"
	"github.com/streamstat/streamstat/sketch"
)

// A pipeline's metrics on a private registry, served at /metrics: each
// scrape reads one snapshot of the pipeline.
func ExampleCollector() {
	gen, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Count: 10_000, Keys: 100})
	if err != nil {
		panic(err)
	}
	p, err := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{
		Name: "distinct", Input: pipeline.ByKey, Parallelism: 2,
		New: func(int) (pipeline.Operator, error) { return &pipeline.Distinct{HLL: new(sketch.HLL)}, nil },
	}}, pipeline.Config{})
	if err != nil {
		panic(err)
	}
	info := observe.Info{Job: "example", Version: "v1.0.0"}
	c, err := promexport.New(func() observe.Snapshot {
		return observe.Take(p, info, nil, time.Now())
	}, promexport.Config{})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry() // never the global one
	if err := reg.Register(c); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fams, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range fams {
		switch f.GetName() {
		case "streamstat_records_read_total", "streamstat_job_info":
			m := f.Metric[0]
			fmt.Print(f.GetName())
			for _, l := range m.GetLabel() {
				fmt.Printf(" %s=%q", l.GetName(), l.GetValue())
			}
			fmt.Println("", m.GetCounter().GetValue()+m.GetGauge().GetValue())
		case "streamstat_records_in_total":
			var n float64
			for _, m := range f.Metric {
				n += m.GetCounter().GetValue()
			}
			fmt.Println(f.GetName(), "summed over", len(f.Metric), "instances:", n)
		}
	}
	fmt.Println("HTTP", resp.StatusCode)
	// Output:
	// streamstat_job_info command="example" 1
	// streamstat_records_in_total summed over 2 instances: 10000
	// streamstat_records_read_total 10000
	// HTTP 200
}
