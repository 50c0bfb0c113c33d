package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/job"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/pipeline/promexport"
)

// webPage is a run's --http server: the live page, its events, the JSON
// snapshot and the Prometheus metrics, served from package observe.
type webPage struct {
	obs  *observe.Observer
	addr net.Addr
	stop func() // stops serving and waits for the server
}

// startWeb listens on s.opts.http and serves j: answer gives the JSON
// answer of the command. It prints the address on stderr (a port 0 picks
// a free one).
func startWeb(e *env, s *spec, j *job.Job, answer func() any) (*webPage, error) {
	ln, err := net.Listen("tcp", s.opts.http)
	if err != nil {
		return nil, fmt.Errorf("--http %s: %w", s.opts.http, err)
	}
	inputs := s.args
	if len(inputs) == 0 {
		inputs = []string{"stdin"}
	}
	info := observe.Info{
		Job: s.cmd, Inputs: inputs, Version: version(),
		// The counters of a resumed run start where its checkpoint was.
		Resumed: s.opts.resume && j.Counts().Records > 0,
		Progress: func() (int64, int64) {
			return int64(j.Counts().Bytes), max(j.Size(), 0)
		},
		Checkpoints: s.opts.checkpoint != "",
	}
	if s.shed != nil {
		info.Shed = s.shed.group
	}
	obs := observe.NewObserver(j.Pipeline(), info, answer)
	stop, err := serveObserver(e, ln, obs)
	if err != nil {
		return nil, err
	}
	return &webPage{obs: obs, addr: ln.Addr(), stop: stop}, nil
}

// serveObserver serves obs on ln (the page, its events, the snapshot and
// the Prometheus metrics: promexport's over the snapshot, extra, and the
// Go and process collectors) until stop is called; it prints the address
// on stderr. It closes ln if it cannot start.
func serveObserver(e *env, ln net.Listener, obs *observe.Observer, extra ...prometheus.Collector) (stop func(), err error) {
	var srv *observe.Server
	reg := prometheus.NewRegistry()
	col, err := promexport.New(func() observe.Snapshot { return srv.Last() }, promexport.Config{})
	cs := append([]prometheus.Collector{col}, extra...)
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err == nil {
			err = reg.Register(c)
		}
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("--http: metrics: %w", err)
	}
	srv = observe.NewServer(obs, observe.ServerConfig{Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil && err != http.ErrServerClosed {
			fmt.Fprintf(e.stderr, "streamstat: --http: %v\n", err)
		}
	}()
	fmt.Fprintf(e.stderr, "streamstat: serving http://%s/\n", ln.Addr())
	return func() { cancel(); <-done }, nil
}

// webHook is the checkpoint callback that tells the page of each
// checkpoint, once the page exists (it needs the job, which needs the
// callback).
type webHook struct{ page atomic.Pointer[webPage] }

func (h *webHook) onComplete(m checkpoint.Manifest, err error) {
	if w := h.page.Load(); w != nil {
		w.obs.CheckpointDone(m, err)
	}
}

// serveUntilDone keeps the page up after the input ended, with the final
// state, until ctx is done (SIGINT, SIGTERM).
func (w *webPage) serveUntilDone(ctx context.Context, e *env) {
	fmt.Fprintf(e.stderr, "streamstat: the input ended; http://%s/ shows the final state until interrupted\n", w.addr)
	<-ctx.Done()
}
