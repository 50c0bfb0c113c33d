package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/observe"
)

// webRun starts `streamstat ARGS` in-process with --http on a free
// loopback port, and returns the page's base URL, stdout, and a function
// that interrupts the run (as SIGINT does) and returns its exit code.
func webRun(t *testing.T, args ...string) (base string, stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = new(syncBuffer), new(syncBuffer)
	code := make(chan int, 1)
	go func() {
		code <- runContext(ctx, append(args, "--http", "127.0.0.1:0"), defaultEnv(strings.NewReader(""), stdout, stderr))
	}()
	stop = func() int { cancel(); return <-code }
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if a, ok := strings.CutPrefix(l, "streamstat: serving "); ok {
				return strings.TrimSuffix(a, "/"), stdout, stderr, stop
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no address on stderr: %s", stderr)
		}
	}
}

func getSnapshot(t *testing.T, base string) (observe.Snapshot, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/api/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var s observe.Snapshot
	var raw struct {
		Answer map[string]any `json:"answer"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return s, raw.Answer
}

// top --http serves the run: the snapshot holds top's JSON answer and the
// runtime state; at the end of the input the answer goes to stdout and the
// page keeps serving the final state until the signal, then exits 0.
func TestHTTPServesTop(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.log")
	var b strings.Builder
	for i := range 3000 {
		b.WriteString([]string{"apple", "banana", "apple", "cherry", "apple"}[i%5] + "\n")
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	base, stdout, stderr, stop := webRun(t, "top", "-k", "2", "-j", "2", "--format", "json", in)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), `"items"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no answer on stdout; stderr: %s", stderr)
		}
	}
	time.Sleep(1500 * time.Millisecond) // a tick after the end
	s, answer := getSnapshot(t, base)
	if s.Job != "top" || s.State != "finished" || s.Records != 3000 || s.TotalBytes != int64(b.Len()) || s.Bytes != int64(b.Len()) {
		t.Errorf("snapshot: job %q state %q records %d bytes %d of %d", s.Job, s.State, s.Records, s.Bytes, s.TotalBytes)
	}
	if len(s.Inputs) != 1 || s.Inputs[0] != in || s.Version == "" {
		t.Errorf("inputs %q version %q", s.Inputs, s.Version)
	}
	items, _ := answer["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["key"] != "apple" || answer["records"] != float64(3000) {
		t.Errorf("answer %v", answer)
	}
	for _, path := range []string{"/", "/healthz", "/metrics", "/api/history"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !strings.Contains(string(body), "streamstat_records_in_total") {
			t.Errorf("/metrics lacks streamstat_records_in_total: %.300s", body)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d; stderr: %s", code, stderr)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after the interrupt")
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(stdout.String()), &out); err != nil || out["complete"] != true {
		t.Errorf("stdout %q: %v", stdout, err)
	}
}

// --http on every counting subcommand; a bad address is a usage error.
func TestHTTPFlag(t *testing.T) {
	for _, cmd := range []string{"distinct", "top", "sample", "stats", "dedup"} {
		args := []string{cmd, "--http", "nohost"}
		if cmd == "stats" {
			args = append(args, "-f", "1")
		}
		_, errOut, code := runIn(t, runOpts{}, args...)
		if code != exitUsage || !strings.Contains(errOut, "--http \"nohost\": use HOST:PORT") {
			t.Errorf("%s --http nohost: exit %d, stderr %q", cmd, code, errOut)
		}
	}
	_, errOut, code := runIn(t, runOpts{}, "freq", "--http", "nohost", "a")
	if code != exitUsage || !strings.Contains(errOut, "--http \"nohost\": use HOST:PORT") {
		t.Errorf("freq --http nohost: exit %d, stderr %q", code, errOut)
	}
}
