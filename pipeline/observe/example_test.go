package observe_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/sketch"
)

// A snapshot of a pipeline that counted distinct keys, with its answer.
func ExampleTake() {
	src, err := pipeline.NewLineSource(strings.NewReader("ann\nbob\nann\ncid\n"), pipeline.LineConfig{})
	if err != nil {
		panic(err)
	}
	p, err := pipeline.New([]pipeline.Source{src}, []pipeline.Stage{{
		Name: "distinct",
		New:  func(int) (pipeline.Operator, error) { return &pipeline.Distinct{HLL: new(sketch.HLL)}, nil },
	}}, pipeline.Config{})
	if err != nil {
		panic(err)
	}
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	answer := func() any {
		var h sketch.HLL
		_ = pipeline.QueryAs(p, 0, func(_ int, op *pipeline.Distinct) error { return h.Merge(op.HLL) })
		return h.Estimate() // {value, lower, upper}: the page draws it as a band
	}
	s := observe.Take(p, observe.Info{Job: "distinct", Inputs: []string{"names.txt"}}, answer, time.Now())
	fmt.Println(s.Job, s.Records, "records")
	for _, st := range s.Stages {
		fmt.Printf("%s#%d: %d in, health %s\n", st.Stage, st.Instance, st.RecordsIn, st.Health)
	}
	fmt.Println(s.Answer)
	// Output:
	// distinct 4 records
	// distinct#0: 4 in, health OK
	// 3 [3, 4] @0.95
}

// A Server of a running pipeline on a loopback port: the page at /, its
// events at /events, the snapshot at /api/snapshot.
func ExampleServer() {
	g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Rate: 1000})
	if err != nil {
		panic(err)
	}
	p, err := pipeline.New([]pipeline.Source{g}, []pipeline.Stage{{
		Name: "top",
		New:  func(int) (pipeline.Operator, error) { return &pipeline.HeavyHitters{TopK: new(sketch.TopK)}, nil },
	}}, pipeline.Config{})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Run(ctx) }()

	o := observe.NewObserver(p, observe.Info{Job: "top"}, nil)
	srv := observe.NewServer(o, observe.ServerConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback: other Host names are refused
	if err != nil {
		panic(err)
	}
	go func() { _ = srv.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Status, " ", string(body))
	// Output:
	// 200 OK ok
}
