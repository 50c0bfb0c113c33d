package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/kafkatest"
	"github.com/streamstat/streamstat/sketch"
)

// kafkaLines returns n clickstream lines "user-K /page/P" with skewed
// users: about n/5 distinct, so that some counts are large.
func kafkaLines(from, n int) []string {
	lines := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		u := (i * i) % (n/5 + 7)
		if i%3 == 0 {
			u %= 10 // a few heavy users
		}
		lines = append(lines, fmt.Sprintf("user-%d /page/%d", u, i%17))
	}
	return lines
}

// kafkaMerge runs merge --kafka-... in process and returns its JSON answer
// (as a map, without "complete") and whether it was complete.
func kafkaMerge(t *testing.T, c *kafkatest.Cluster, group string, extra ...string) (map[string]any, bool, string) {
	t.Helper()
	args := append([]string{"merge", "--kafka-brokers", c.Brokers(), "--kafka-group", group, "--kafka-topic", "clicks", "--format", "json"}, extra...)
	out, errOut, code := runIn(t, runOpts{}, args...)
	if code != 0 {
		return nil, false, errOut
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("merge: %v: %q", err, out)
	}
	complete, _ := m["complete"].(bool)
	delete(m, "complete")
	return m, complete, errOut
}

// waitMerged polls merge until the group's answer covers every record of
// the topic (complete), and returns it.
func waitMerged(t *testing.T, c *kafkatest.Cluster, group string, within time.Duration, extra ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		m, complete, errOut := kafkaMerge(t, c, group, extra...)
		if complete {
			return m
		}
		last = fmt.Sprintf("%v %s", m, errOut)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s: no complete answer within %v; the last: %s", group, within, last)
	return nil
}

// stdinAnswer is the JSON answer of one process over lines on stdin.
func stdinAnswer(t *testing.T, lines []string, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(strings.Join(lines, "\n") + "\n")}, append(args, "--format", "json")...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "complete")
	return m
}

func sameJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// kafkaWorker is a streamstat worker process.
type kafkaWorker struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func startKafkaWorker(t *testing.T, c *kafkatest.Cluster, group string, args ...string) *kafkaWorker {
	t.Helper()
	w := new(kafkaWorker)
	args = append(args, "--kafka-brokers", c.Brokers(), "--kafka-topic", "clicks", "--kafka-group", group,
		"--kafka-session", "1s", "--format", "json")
	w.cmd = exec.Command(streamstatBin(t), args...)
	w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})
	return w
}

// TestKafkaCLIKillAndTakeOver: two distinct workers share a group; one is
// killed with SIGKILL mid-stream (no leave, no last checkpoint), another
// starts; the group's merged answer is the answer of one process over the
// same records: the same HLL, the same record count, nothing lost or
// counted twice. The survivors stop on SIGTERM with exit 0.
func TestKafkaCLIKillAndTakeOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three worker processes")
	}
	c := kafkatest.Start(t, kafkatest.Config{Topics: []string{"clicks"}})
	first := kafkaLines(0, 6000)
	c.ProduceLines(t, "clicks", first)
	a := startKafkaWorker(t, c, "g", "distinct", "-f", "1")
	b := startKafkaWorker(t, c, "g", "distinct", "-f", "1")
	got := waitMerged(t, c, "g", 30*time.Second)
	if want := stdinAnswer(t, first, "distinct", "-f", "1"); !sameJSON(got, want) {
		t.Fatalf("first half: group answers %v, one process %v", got, want)
	}

	second := kafkaLines(6000, 30000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(second); i += 3000 {
			c.ProduceLines(t, "clicks", second[i:i+3000])
		}
	}()
	time.Sleep(300 * time.Millisecond) // a's partitions are mid-stream
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()
	cw := startKafkaWorker(t, c, "g", "distinct", "-f", "1")
	<-done

	all := append(append([]string(nil), first...), second...)
	got = waitMerged(t, c, "g", 60*time.Second)
	want := stdinAnswer(t, all, "distinct", "-f", "1")
	if !sameJSON(got, want) {
		t.Errorf("after the kill: group answers %v, one process over the same records %v", got, want)
	}
	for name, w := range map[string]*kafkaWorker{"b": b, "c": cw} {
		w.cmd.Process.Signal(syscall.SIGTERM)
		if err := w.cmd.Wait(); err != nil {
			t.Errorf("worker %s: %v; stderr:\n%s", name, err, w.stderr.String())
		}
		if !strings.Contains(w.stdout.String(), `"distinct"`) || !strings.Contains(w.stderr.String(), "this answer covers partitions") {
			t.Errorf("worker %s wrote %q, stderr %q: want its final answer and which partitions it covers", name, w.stdout.String(), w.stderr.String())
		}
	}
}

// runKafkaInProcess runs a worker in process until stop is closed, and
// returns its exit code and stderr through the channel.
func runKafkaInProcess(t *testing.T, c *kafkatest.Cluster, group string, args ...string) (stop func() (string, string, int)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type res struct {
		out, err string
		code     int
	}
	ch := make(chan res, 1)
	args = append(args, "--kafka-brokers", c.Brokers(), "--kafka-topic", "clicks", "--kafka-group", group, "--kafka-session", "1s", "--format", "json")
	go func() {
		out, errOut, code := runIn(t, runOpts{ctx: ctx}, args...)
		ch <- res{out, errOut, code}
	}()
	return func() (string, string, int) {
		cancel()
		r := <-ch
		return r.out, r.err, r.code
	}
}

// TestKafkaCLICommands: for top, freq and stats, a group of two workers
// answers as one process over the same records: exact counts (top lists
// keys with certain bounds; freq and stats equal), the same sketches.
func TestKafkaCLICommands(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config{Topics: []string{"clicks"}})
	var lines []string
	for i := range 4000 {
		lines = append(lines, fmt.Sprintf("user-%d /page/%d %d", (i*7)%23, i%5, i%101))
	}
	c.ProduceLines(t, "clicks", lines)
	for _, tc := range []struct {
		name  string
		args  []string // the worker's
		merge []string // merge's extra arguments (freq's keys, also the worker's)
	}{
		{"top", []string{"top", "-k", "5", "-f", "1"}, nil},
		{"freq", []string{"freq", "-f", "1"}, []string{"user-0", "user-3", "nobody"}},
		{"stats", []string{"stats", "-f", "3"}, nil},
		{"distinct-page", []string{"distinct", "-f", "2", "--precision", "10"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "g-" + tc.name
			worker := append(tc.args[:len(tc.args):len(tc.args)], tc.merge...)
			stop1 := runKafkaInProcess(t, c, group, worker...)
			stop2 := runKafkaInProcess(t, c, group, worker...)
			got := waitMerged(t, c, group, 30*time.Second, tc.merge...)
			want := stdinAnswer(t, lines, worker...)
			if tc.name == "stats" {
				// Quantile sketches are randomized per worker (their
				// seeds); moments, counts and extremes merge exactly.
				delete(got, "quantiles")
				delete(want, "quantiles")
				for _, k := range []string{"mean", "stddev", "mean_lower", "mean_upper"} {
					g, _ := got[k].(float64)
					w, _ := want[k].(float64)
					if d := g - w; d > 1e-9*max(w, -w, 1) || d < -1e-9*max(w, -w, 1) {
						t.Errorf("%s: group %v, one process %v", k, g, w)
					}
					delete(got, k)
					delete(want, k)
				}
			}
			if !sameJSON(got, want) {
				t.Errorf("group answers %v\none process     %v", got, want)
			}
			for _, stop := range []func() (string, string, int){stop1, stop2} {
				if _, errOut, code := stop(); code != 0 {
					t.Errorf("worker exit %d: %s", code, errOut)
				}
			}
		})
	}
}

// TestKafkaCLIBrokerErrors: an unreachable broker, a missing topic, a
// group without state and a worker of another command give exit 1 and a
// one-line message, within seconds.
func TestKafkaCLIBrokerErrors(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config{Topics: []string{"clicks"}})
	c.ProduceLines(t, "clicks", kafkaLines(0, 500))
	stop := runKafkaInProcess(t, c, "g", "distinct")
	waitMerged(t, c, "g", 30*time.Second)
	if _, errOut, code := stop(); code != 0 {
		t.Fatalf("worker exit %d: %s", code, errOut)
	}
	// Text answers say why they may be partial: without --kafka-topic,
	// merge cannot tell whether the commits cover the topic; with it, the
	// answer here is complete.
	out, _, code := runIn(t, runOpts{}, "merge", "--kafka-brokers", c.Brokers(), "--kafka-group", "g")
	if code != 0 || !strings.HasSuffix(out, "records   500\nskipped   0\nshed      0\npartial answer: as of group g's last commits (--kafka-topic T also says whether they cover all of T)\n") {
		t.Errorf("merge without --kafka-topic: exit %d, %q", code, out)
	}
	out, _, code = runIn(t, runOpts{}, "merge", "--kafka-brokers", c.Brokers(), "--kafka-group", "g", "--kafka-topic", "clicks")
	if code != 0 || strings.Contains(out, "partial") {
		t.Errorf("merge with --kafka-topic: exit %d, %q", code, out)
	}
	closed := kafkatest.ClosedAddr(t)
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"closed-port", []string{"distinct", "--kafka-brokers", closed, "--kafka-topic", "clicks", "--kafka-group", "g"}, "cannot reach the brokers " + closed},
		{"closed-port-merge", []string{"merge", "--kafka-brokers", closed, "--kafka-group", "g"}, "cannot reach the brokers " + closed},
		{"no-topic", []string{"distinct", "--kafka-brokers", c.Brokers(), "--kafka-topic", "nope", "--kafka-group", "g2"}, "nope"},
		{"no-group-state", []string{"merge", "--kafka-brokers", c.Brokers(), "--kafka-group", "never"}, "never-streamstat-checkpoints"},
		{"other-command", []string{"top", "--kafka-brokers", c.Brokers(), "--kafka-topic", "clicks", "--kafka-group", "g"}, "streamstat distinct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, errOut, code := runIn(t, runOpts{ctx: ctx}, tc.args...)
			if took := time.Since(start); took > 12*time.Second {
				t.Errorf("took %v", took)
			}
			if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "streamstat: kafka: ") || !strings.Contains(errOut, tc.says) {
				t.Errorf("exit %d, stderr %q: want exit 1 and one line saying %q", code, errOut, tc.says)
			}
		})
	}
}

// TestKafkaCLIUsage: flags that do not fit a Kafka worker are usage
// errors (exit 2) that say why.
func TestKafkaCLIUsage(t *testing.T) {
	k := []string{"--kafka-brokers", "127.0.0.1:9092", "--kafka-topic", "t", "--kafka-group", "g"}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"distinct", "--kafka-topic", "t"}, "need --kafka-brokers"},
		{[]string{"distinct", "--kafka-brokers", "localhost", "--kafka-group", "g", "--kafka-topic", "t"}, "HOST:PORT"},
		{[]string{"distinct", "--kafka-brokers", "127.0.0.1:9092", "--kafka-topic", "t"}, "needs --kafka-group"},
		{[]string{"distinct", "--kafka-brokers", "127.0.0.1:9092", "--kafka-group", "g"}, "needs --kafka-topic"},
		{[]string{"distinct", "--kafka-brokers", "127.0.0.1:9092", "--kafka-group", "g", "--kafka-topic", "a b"}, "letters, digits"},
		{append([]string{"distinct", "access.log"}, k...), "give no FILE"},
		{append([]string{"top", "-j", "4"}, k...), "start more workers"},
		{append([]string{"freq", "--key", "a", "access.log"}, k...), "give no FILE"},
		{append([]string{"distinct", "--checkpoint", "/tmp/x"}, k...), "checkpoint topic"},
		{append([]string{"distinct", "--kafka-session", "10ms"}, k...), "100ms to 1h"},
		{append([]string{"sample"}, k...), "sample does not take this flag"},
		// Refused until a Worker tells a dropped operator to release its
		// share of the run's memBudget (see kafkaConflicts).
		{append([]string{"distinct", "--by", "1", "-k", "0"}, k...), "--by: not with --kafka-brokers yet"},
		{append([]string{"distinct", "-f", "2", "--by=1", "-k", "0", "--max-memory", "1MiB"}, k...), "--by: not with --kafka-brokers yet"},
		{append([]string{"top", "--by", "1"}, k...), "--by: not with --kafka-brokers yet"},
		{append([]string{"distinct", "--window", "1m"}, k...), "--window: not with --kafka-brokers yet"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := runIn(t, runOpts{}, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.says) {
				t.Errorf("exit %d, stderr %q: want exit 2 saying %q", code, errOut, tc.says)
			}
		})
	}
}

// TestKafkaCLIIdentity: a worker's identity keeps the flags that shape
// its state, as typed, and drops the others and freq's keys.
func TestKafkaCLIIdentity(t *testing.T) {
	c := findCommand("freq")
	o := new(options)
	fs := c.newFlagSet(o)
	args := []string{"user-1", "-f", "2", "--kafka-brokers", "h:1", "--format=json", "--precision", "12", "--interval", "1s", "user-2"}
	if _, err := parseArgs(fs, args); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(kafkaIdentity("freq", fs, args), " ")
	if want := "freq -f 2 --precision 12"; got != want {
		t.Errorf("identity %q, want %q", got, want)
	}
	state := appendIdentity(nil, strings.Fields(got))
	id, rest, err := splitIdentity(append(state, 7))
	if err != nil || strings.Join(id, " ") != got || !bytes.Equal(rest, []byte{7}) {
		t.Errorf("split: %q %v %v", id, rest, err)
	}
	for _, bad := range [][]byte{nil, []byte("streamstat-kafka 1\n"), []byte("streamstat-kafka 1\n\x05ab"), []byte("other")} {
		if _, _, err := splitIdentity(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestKafkaCLIHTTP: a Kafka worker's --http serves its answer and Kafka
// counters at /api/snapshot and Prometheus metrics at /metrics, which
// agree with what it counted.
func TestKafkaCLIHTTP(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config{Topics: []string{"clicks"}})
	lines := kafkaLines(0, 3000)
	c.ProduceLines(t, "clicks", lines)
	ctx, cancel := context.WithCancel(context.Background())
	stderr := new(syncBuffer)
	done := make(chan int, 1)
	go func() {
		_, _, code := runIn(t, runOpts{ctx: ctx, stderr: stderr}, "distinct", "-f", "1", "--http", "127.0.0.1:0",
			"--kafka-brokers", c.Brokers(), "--kafka-topic", "clicks", "--kafka-group", "web", "--kafka-session", "1s")
		done <- code
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("worker exit %d: %s", code, stderr.String())
		}
	}()
	reAddr := regexp.MustCompile(`serving http://([^/]+)/`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if m := reAddr.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no address on stderr: %q", stderr.String())
		}
	}
	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
		}
		return string(b)
	}
	var snap struct {
		Job     string `json:"job"`
		Details struct {
			Kafka struct {
				Records   uint64  `json:"records"`
				Owned     []int32 `json:"owned"`
				Committed uint64  `json:"transactions_committed"`
			} `json:"kafka"`
		} `json:"details"`
		Records uint64 `json:"records"`
		Stages  []struct {
			Stage     string `json:"stage"`
			Instance  int    `json:"instance"`
			RecordsIn uint64 `json:"records_in"`
		} `json:"stages"`
		Checkpoints struct {
			Completed uint64 `json:"completed"`
			Recent    []struct {
				OK   bool  `json:"ok"`
				Size int64 `json:"size_bytes"`
			} `json:"recent"`
		} `json:"checkpoints"`
		Answer distinctJSON `json:"answer"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := json.Unmarshal([]byte(get("/api/snapshot")), &snap); err != nil {
			t.Fatal(err)
		}
		if snap.Answer.Records == uint64(len(lines)) && snap.Details.Kafka.Committed > 0 && snap.Records == uint64(len(lines)) && len(snap.Checkpoints.Recent) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %+v: want all %d records and a commit", snap, len(lines))
		}
	}
	want := stdinAnswer(t, lines, "distinct", "-f", "1")
	if snap.Job != "distinct" || len(snap.Details.Kafka.Owned) != kafkatest.DefaultPartitions || snap.Details.Kafka.Records != uint64(len(lines)) ||
		float64(snap.Answer.Distinct) != want["distinct"] {
		t.Errorf("snapshot %+v; one process answers %v", snap, want)
	}
	// The page's snapshot draws the partitions as the instances of one
	// stage, with their records, and the transactions as checkpoints.
	var in uint64
	for i, st := range snap.Stages {
		if st.Stage != "partition" || st.Instance != i {
			t.Errorf("stage %d: %+v, want partition %d", i, st, i)
		}
		in += st.RecordsIn
	}
	if len(snap.Stages) != kafkatest.DefaultPartitions || in != uint64(len(lines)) {
		t.Errorf("stages %+v: want the %d partitions and %d records", snap.Stages, kafkatest.DefaultPartitions, len(lines))
	}
	if last := snap.Checkpoints.Recent[len(snap.Checkpoints.Recent)-1]; snap.Checkpoints.Completed == 0 || !last.OK || last.Size <= 0 {
		t.Errorf("checkpoints %+v: want the committed transactions with their sizes", snap.Checkpoints)
	}
	if page := get("/"); !strings.Contains(page, "<script") {
		t.Errorf("/ is not the live page: %.200q", page)
	}
	metrics := get("/metrics")
	for _, m := range []string{
		fmt.Sprintf("streamstat_kafka_records_total %d\n", len(lines)),
		fmt.Sprintf("streamstat_kafka_partitions_owned %d\n", kafkatest.DefaultPartitions),
		`streamstat_kafka_transactions_total{outcome="committed"}`,
		fmt.Sprintf("streamstat_records_read_total %d\n", len(lines)),
		`streamstat_records_in_total{stage="partition",subtask="0"}`,
	} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
}

// FuzzKafkaIdentity: splitIdentity never panics; what it accepts
// re-encodes to the same bytes, and every error wraps sketch.ErrCorrupt.
func FuzzKafkaIdentity(f *testing.F) {
	f.Add(appendIdentity(nil, []string{"distinct", "-f", "1"}))
	f.Add(append(appendIdentity(nil, []string{"top", "-k", "5"}), 1, 2, 3))
	f.Add([]byte(kafkaStateMagic))
	f.Add([]byte(kafkaStateMagic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add([]byte(kafkaStateMagic + "\x80\x00x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, rest, err := splitIdentity(data)
		if err != nil {
			if !errors.Is(err, sketch.ErrCorrupt) {
				t.Fatalf("error %v does not wrap sketch.ErrCorrupt", err)
			}
			return
		}
		if again := append(appendIdentity(nil, id), rest...); !bytes.Equal(again, data) {
			t.Fatalf("%q decodes to %q + %q, which encode to %q", data, id, rest, again)
		}
	})
}

// TestKafkaCLISilentBroker: a "broker" that accepts connections and never
// answers (a hung process, a port that swallows traffic) does not hang a
// worker or merge: exit 1 with one line, within kafkaTimeout and a little.
func TestKafkaCLISilentBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 10 s timeout")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // after the parallel subtests
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	addr := ln.Addr().String()
	for _, args := range [][]string{
		{"distinct", "--kafka-brokers", addr, "--kafka-topic", "clicks", "--kafka-group", "g"},
		{"merge", "--kafka-brokers", addr, "--kafka-group", "g", "--kafka-topic", "clicks"},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			_, errOut, code := runIn(t, runOpts{ctx: ctx}, args...)
			took := time.Since(start)
			if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "streamstat: kafka: ") {
				t.Errorf("exit %d after %v, stderr %q: want exit 1 and one line", code, took, errOut)
			}
			t.Logf("%v: %s", took, errOut)
			if took > kafkaTimeout+5*time.Second {
				t.Errorf("took %v, want about %v", took, kafkaTimeout)
			}
		})
	}
}
