package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve starts a Server of a finished top-k job on a loopback port and
// returns its base URL.
func serve(t *testing.T, cfg ServerConfig, answer func() any) (*Server, string) {
	t.Helper()
	p := topJob(t, 2000, 10, 2, pipelineConfig())
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if answer == nil {
		answer = topAnswer(p, 10)
	}
	o := NewObserver(p, Info{Job: "top", Inputs: []string{"a.log"}}, answer)
	o.Done(nil)
	s := NewServer(o, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestEndpoints(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "streamstat_up 1\n") })
	_, base := serve(t, ServerConfig{Metrics: metrics}, nil)
	for _, c := range []struct {
		path, ctype, has string
	}{
		{"/", "text/html", "<canvas"},
		{"/static/app.js", "text/javascript", "EventSource"},
		{"/static/style.css", "text/css", "body"},
		{"/api/snapshot", "application/json", `"job":"top"`},
		{"/api/history", "application/json", `"points":[`},
		{"/healthz", "text/plain", "ok"},
		{"/metrics", "", "streamstat_up 1"},
	} {
		t.Run(c.path, func(t *testing.T) {
			resp, body := get(t, base+c.path)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, c.ctype)
			}
			if !strings.Contains(body, c.has) {
				t.Errorf("body lacks %q: %.300s", c.has, body)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
	var snap Snapshot
	_, body := get(t, base+"/api/snapshot")
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Records != 4000 || snap.State != "finished" || len(snap.Inputs) != 1 {
		t.Errorf("snapshot: records %d state %q inputs %v", snap.Records, snap.State, snap.Inputs)
	}
	for _, path := range []string{"/nope", "/api/", "/static/missing.js"} {
		if resp, _ := get(t, base+path); resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(base+"/api/snapshot", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
}

func TestNoMetricsWithoutHandler(t *testing.T) {
	_, base := serve(t, ServerConfig{}, nil)
	if resp, _ := get(t, base+"/metrics"); resp.StatusCode != 404 {
		t.Errorf("/metrics: status %d, want 404", resp.StatusCode)
	}
}

// readEvent reads one event (up to a blank line) from an event stream.
func readEvent(t *testing.T, r *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading event after %q: %v", lines, err)
		}
		l = strings.TrimSuffix(l, "\n")
		if l == "" {
			if len(lines) > 0 {
				return lines
			}
			continue
		}
		lines = append(lines, l)
	}
}

func TestEventStreamFraming(t *testing.T) {
	s, base := serve(t, ServerConfig{Tick: time.Hour, Heartbeat: 50 * time.Millisecond}, nil)
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	if ev := readEvent(t, r); len(ev) != 1 || ev[0] != "retry: 2000" {
		t.Errorf("first event %q, want the retry", ev)
	}
	dataEvent := func(ev []string) Snapshot {
		t.Helper()
		if len(ev) != 1 || !strings.HasPrefix(ev[0], "data: {") {
			t.Fatalf("event %q, want one data line of JSON", ev)
		}
		var snap Snapshot
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev[0], "data: ")), &snap); err != nil {
			t.Fatal(err)
		}
		return snap
	}
	first := dataEvent(readEvent(t, r))
	if first.Job != "top" {
		t.Errorf("first snapshot job %q", first.Job)
	}
	if ev := readEvent(t, r); len(ev) != 1 || ev[0] != ": ping" {
		t.Errorf("idle stream sent %q, want a ping", ev)
	}
	s.Tick()
	next := dataEvent(readEvent(t, r))
	if !next.Time.After(first.Time) {
		t.Errorf("tick snapshot at %v, not after %v", next.Time, first.Time)
	}
}

func TestEventClientLimit(t *testing.T) {
	s, base := serve(t, ServerConfig{MaxClients: 2, Tick: time.Hour}, nil)
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for i := range 3 {
		resp, err := http.Get(base + "/events")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, resp)
		want := 200
		if i == 2 {
			want = http.StatusServiceUnavailable
		}
		if resp.StatusCode != want {
			t.Errorf("stream %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	if n, _ := s.Clients(); n != 2 {
		t.Errorf("%d clients open, want 2", n)
	}
	open[0].Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.Tick() // a write to the closed stream fails, or its context ends
		if n, _ := s.Clients(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed stream still counts")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	open = append(open, resp)
	if resp.StatusCode != 200 {
		t.Errorf("after one closed: status %d, want 200", resp.StatusCode)
	}
}

// A client that never reads is dropped, and ticks go on meanwhile: the
// snapshots are big, so its socket fills and its queue with it.
func TestSlowClientDropped(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	s, base := serve(t, ServerConfig{Tick: time.Hour, ClientBuffer: 2, WriteTimeout: 300 * time.Millisecond},
		func() any { return map[string]string{"blob": big} })
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(base, "http://"))
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		start := time.Now()
		s.Tick()
		if d := time.Since(start); d > time.Second {
			t.Fatalf("tick %d took %v: a slow client held it", n, d)
		}
		if open, dropped := s.Clients(); open == 0 && dropped >= 1 {
			break
		}
		if time.Now().After(deadline) {
			open, dropped := s.Clients()
			t.Fatalf("after %d ticks: %d open, %d dropped", n, open, dropped)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLoopbackHostCheck(t *testing.T) {
	_, base := serve(t, ServerConfig{}, nil)
	addr := strings.TrimPrefix(base, "http://")
	_, port, _ := net.SplitHostPort(addr)
	for _, c := range []struct {
		host string
		want int
	}{
		{addr, 200},
		{"localhost:" + port, 200},
		{"LOCALHOST", 200},
		{"app.localhost:" + port, 200},
		{"[::1]:" + port, 200},
		{"127.0.0.2", 200},
		{"evil.example:" + port, 403},
		{"evil.example", 403},
		{"localhost.evil.example", 403},
		{"10.0.0.1:" + port, 403},
	} {
		t.Run("host="+c.host, func(t *testing.T) {
			req, err := http.NewRequest("GET", base+"/healthz", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = c.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}

// The history covers HistoryWindow at the server's tick (at least 10
// points).
func TestHistorySizedByTick(t *testing.T) {
	p := topJob(t, 100, 10, 1, pipelineConfig())
	o := NewObserver(p, Info{}, nil)
	s := NewServer(o, ServerConfig{Tick: 2 * time.Minute}) // 5 ticks in the window: 10 kept
	now := time.Unix(1000, 0)
	s.cfg.Now = func() time.Time { now = now.Add(time.Second); return now }
	for range 15 {
		s.Tick()
	}
	if n := len(o.History()); n != 10 {
		t.Errorf("history of %d points, want 10", n)
	}
	o2 := NewObserver(p, Info{}, nil)
	NewServer(o2, ServerConfig{Tick: 100 * time.Millisecond})
	o2.mu.Lock()
	n := len(o2.hist.ring)
	o2.mu.Unlock()
	if n != 6000 {
		t.Errorf("a 100 ms tick keeps %d points, want 6000 (10 minutes)", n)
	}
}
