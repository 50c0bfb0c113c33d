package observe

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed web
var webFS embed.FS

// Defaults of ServerConfig.
const (
	DefaultTick         = time.Second
	DefaultHeartbeat    = 15 * time.Second
	DefaultMaxClients   = 16
	DefaultWriteTimeout = 5 * time.Second
	DefaultClientBuffer = 4
)

// ErrTooManyClients is the error text of an event stream refused because
// ServerConfig.MaxClients streams are open.
var ErrTooManyClients = errors.New("observe: too many event streams open; close a tab or raise MaxClients")

// ServerConfig tunes a Server. The zero value means the documented
// defaults.
type ServerConfig struct {
	// Tick is how often the Observer takes a snapshot and the event
	// streams get it; 0 means DefaultTick.
	Tick time.Duration
	// Heartbeat is how often an idle event stream gets a ": ping"
	// comment; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// MaxClients bounds the open event streams; 0 means
	// DefaultMaxClients. More are refused with 503.
	MaxClients int
	// WriteTimeout is the deadline of each write to an event stream; a
	// client that does not take an event in time is dropped. 0 means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// ClientBuffer is how many events may wait for a client; one more
	// and the client is dropped (it reconnects and back-fills from
	// /api/history). 0 means DefaultClientBuffer.
	ClientBuffer int
	// Metrics, if set, serves /metrics (the Prometheus adapter's handler).
	Metrics http.Handler
	// Now tells the time of the snapshots; nil means time.Now.
	Now func() time.Time
}

// Server serves an Observer's snapshots over HTTP (its history covering
// HistoryWindow at its tick): / (the page), /events,
// /api/snapshot, /api/history, /healthz and, if configured, /metrics.
//
// The zero value is not usable; make one with NewServer. A Server is safe
// for concurrent use. Serve runs it; to mount Handler elsewhere, call Run
// too.
type Server struct {
	obs *Observer
	cfg ServerConfig
	mux *http.ServeMux

	tickMu   sync.Mutex // one Tick at a time, so rates cover whole intervals
	mu       sync.Mutex
	last     []byte // the last snapshot, as JSON
	lastSnap Snapshot
	clients  map[*client]struct{}
	dropped  uint64
	quit     chan struct{}
	ticked   chan struct{} // closed after the first tick
	once     sync.Once
}

// client is one open event stream.
type client struct {
	ch   chan []byte
	gone chan struct{} // closed when the server drops the client
}

// NewServer returns a Server of o.
func NewServer(o *Observer, cfg ServerConfig) *Server {
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.ClientBuffer <= 0 {
		cfg.ClientBuffer = DefaultClientBuffer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if n := int(HistoryWindow / cfg.Tick); n != HistoryLen {
		o.keepHistory(min(max(n, 10), 100*HistoryLen))
	}
	s := &Server{obs: o, cfg: cfg, clients: map[*client]struct{}{}, quit: make(chan struct{}), ticked: make(chan struct{})}
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is part of the build
	}
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	m.HandleFunc("GET /events", s.events)
	m.HandleFunc("GET /api/snapshot", s.snapshot)
	m.HandleFunc("GET /api/history", s.history)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	if cfg.Metrics != nil {
		m.Handle("GET /metrics", cfg.Metrics)
	}
	s.mux = m
	return s
}

// Handler returns the server's handler: read-only (GET and HEAD), with
// headers that keep the page to its own origin. It checks no Host; see
// LoopbackOnly.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		s.mux.ServeHTTP(w, r)
	})
}

// LoopbackOnly wraps h to refuse, with 403, requests whose Host is not a
// loopback name (localhost, *.localhost, 127.0.0.0/8, ::1): a server bound
// to loopback is then out of reach of a page that rebinds its own domain
// name to 127.0.0.1.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "observe: Host "+strconv.Quote(r.Host)+" is not a loopback name; open the page at http://localhost or http://127.0.0.1", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve runs the ticks and serves on ln until ctx is done, then closes the
// event streams and shuts down. Bound to a loopback address, it refuses
// other Host names (LoopbackOnly).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	h := s.Handler()
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		h = LoopbackOnly(h)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		// No WriteTimeout: it would cut the event streams, which set a
		// deadline per write instead.
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.Run(runCtx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.close()
	sctx, done := context.WithTimeout(context.Background(), 2*time.Second)
	defer done()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// Run takes a snapshot now and then every Tick, until ctx is done, and
// sends each to the event streams; a stream whose buffer is full is
// dropped. Run never waits for a client.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.Tick()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick takes one snapshot and sends it to the event streams. Run calls it;
// tests and benchmarks may call it directly.
func (s *Server) Tick() {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	snap := s.obs.Take(s.cfg.Now())
	b, err := marshalSnapshot(&snap)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "observe: snapshot: " + err.Error()})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.lastSnap = b, snap
	for c := range s.clients {
		select {
		case c.ch <- b:
		default: // too slow: drop it rather than wait or queue without end
			s.dropLocked(c)
		}
	}
	s.once.Do(func() { close(s.ticked) })
}

func (s *Server) dropLocked(c *client) {
	delete(s.clients, c)
	close(c.gone)
	s.dropped++
}

// Clients returns the number of open event streams and of those dropped
// for being slow (their queue full at a tick, or a write past its
// deadline).
func (s *Server) Clients() (open int, dropped uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients), s.dropped
}

// close ends every event stream.
func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
}

// lastSnapshot returns the last tick's JSON, ticking if there was none.
func (s *Server) lastSnapshot() []byte {
	s.mu.Lock()
	b := s.last
	s.mu.Unlock()
	if b == nil {
		s.Tick()
		s.mu.Lock()
		b = s.last
		s.mu.Unlock()
	}
	return b
}

// Last returns the snapshot of the last tick (ticking first if there was
// none): what /api/snapshot serves, for a Prometheus collector to read
// without taking a snapshot of its own.
func (s *Server) Last() Snapshot {
	s.lastSnapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSnap
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.lastSnapshot())
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(struct {
		Tick   float64 `json:"tick_seconds"`
		Points []Point `json:"points"`
	}{s.cfg.Tick.Seconds(), s.obs.History()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, b)
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// events serves one event stream: the last snapshot at once, then one
// "data:" event per tick and a ": ping" comment when idle.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	c := &client{ch: make(chan []byte, s.cfg.ClientBuffer), gone: make(chan struct{})}
	first := s.lastSnapshot()
	s.mu.Lock()
	if len(s.clients) >= s.cfg.MaxClients {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "10")
		http.Error(w, ErrTooManyClients.Error(), http.StatusServiceUnavailable)
		return
	}
	s.clients[c] = struct{}{}
	s.mu.Unlock()
	var werr error
	defer func() {
		s.mu.Lock()
		if _, ok := s.clients[c]; ok {
			delete(s.clients, c)
			if errors.Is(werr, os.ErrDeadlineExceeded) {
				s.dropped++ // too slow to take one event
			}
		}
		s.mu.Unlock()
	}()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	send := func(parts ...[]byte) bool {
		if werr = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); werr != nil {
			return false
		}
		for _, p := range parts {
			if _, werr = w.Write(p); werr != nil {
				return false
			}
		}
		werr = rc.Flush()
		return werr == nil
	}
	if !send([]byte("retry: 2000\n\ndata: "), first, []byte("\n\n")) {
		return
	}
	ping := time.NewTicker(s.cfg.Heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case <-c.gone:
			return
		case b := <-c.ch:
			if !send([]byte("data: "), b, []byte("\n\n")) {
				return
			}
			ping.Reset(s.cfg.Heartbeat)
		case <-ping.C:
			if !send([]byte(": ping\n\n")) {
				return
			}
		}
	}
}

// marshalSnapshot is json.Marshal(s), but splices in an answer the
// Observer marshaled already (json.Marshal would scan it once more to
// compact it: a third of a tick with a 1000-entry top-k).
func marshalSnapshot(s *Snapshot) ([]byte, error) {
	raw, ok := s.Answer.(json.RawMessage)
	if !ok || len(raw) == 0 {
		return json.Marshal(s)
	}
	c := *s
	c.Answer = nil
	b, err := json.Marshal(&c)
	if err != nil || len(b) < 2 || b[len(b)-1] != '}' {
		return json.Marshal(s)
	}
	b = append(b[:len(b)-1], `,"answer":`...)
	b = append(b, raw...)
	return append(b, '}'), nil
}
