package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// server is serve running on its own goroutine.
type server struct {
	addrs  []string
	st     produceStats
	cancel context.CancelFunc
	done   chan error
}

// startServe runs serve with o until stop; it returns once the topic holds
// the stream (or production stopped at ctx).
func startServe(t *testing.T, ctx context.Context, o *options) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	s := &server{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	var once sync.Once
	o.ready = func(addrs []string, st produceStats) {
		s.addrs, s.st = addrs, st
		once.Do(func() { close(ready) })
	}
	go func() { s.done <- serve(ctx, o, io.Discard) }()
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve: not ready after 60s")
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t *testing.T) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func testOptions(t *testing.T, args ...string) *options {
	t.Helper()
	o, err := parseFlags(append([]string{"-ports", "0,0,0"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// readTopic reads every record of topic and returns the records of each
// partition and every user's count.
func readTopic(t *testing.T, addrs []string, topic string, want int64) ([]int64, map[string]int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var per []int64
	counts := make(map[string]int64)
	var n int64
	for n < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", n, want, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			for int(r.Partition) >= len(per) {
				per = append(per, 0)
			}
			per[r.Partition]++
			user, _, _ := strings.Cut(string(r.Value), " ")
			if user != string(r.Key) {
				t.Errorf("record %q has key %q", r.Value, r.Key)
			}
			counts[user]++
			n++
		})
	}
	return per, counts
}

// TestKafkaExampleTopicHoldsTheTruth: the topic holds exactly the records
// the truth file counts, each user in the partition the truth says.
func TestKafkaExampleTopicHoldsTheTruth(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, "-data", dir, "-n", "20000", "-users", "3000")
	s := startServe(t, context.Background(), o)
	tr, err := readTruth(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Records != 20000 || s.st.total != 20000 || s.st.produced != 20000 || len(tr.PerPartition) != 6 {
		t.Fatalf("truth %d records over %d partitions, topic %+v; want 20000 over 6", tr.Records, len(tr.PerPartition), s.st)
	}
	per, counts := readTopic(t, s.addrs, "clicks", tr.Records)
	if fmt.Sprint(per) != fmt.Sprint(tr.PerPartition) {
		t.Errorf("partitions hold %v, truth says %v", per, tr.PerPartition)
	}
	if len(counts) != tr.Distinct || len(counts) != len(tr.Counts) {
		t.Errorf("%d distinct users in the topic, truth says %d", len(counts), tr.Distinct)
	}
	for k, n := range tr.Counts {
		if counts[k] != n {
			t.Fatalf("%s: %d records in the topic, truth says %d", k, counts[k], n)
		}
	}
	for i, kc := range tr.Top {
		if i > 0 && (kc.Count > tr.Top[i-1].Count) {
			t.Errorf("top not in order at %d: %v", i, tr.Top[:i+1])
		}
	}
}

// TestKafkaExampleRestartGoesOn: stopped while producing (a slow -rate)
// and started again on its data directory, the program produces only
// what the topic is missing: it ends with exactly the stream, nothing
// twice.
func TestKafkaExampleRestartGoesOn(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-data", dir, "-n", "30000", "-users", "3000"}
	o := testOptions(t, append(args, "-rate", "20000")...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.progress = func(n int64) {
		if n >= 5000 {
			cancel() // production stops at ctx
		}
	}
	s := startServe(t, ctx, o)
	s.stop(t)
	first := s.st.produced
	if first == 0 || first >= 30000 {
		t.Fatalf("first run produced %d of 30000 records: want it stopped midway", first)
	}

	s = startServe(t, context.Background(), testOptions(t, args...))
	if s.st.total != 30000 || s.st.produced >= 30000 || s.st.produced < 30000-first {
		t.Errorf("second run: %+v after %d produced by the first: want 30000 in all", s.st, first)
	}
	tr, err := readTruth(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	per, counts := readTopic(t, s.addrs, "clicks", tr.Records)
	if fmt.Sprint(per) != fmt.Sprint(tr.PerPartition) || len(counts) != tr.Distinct {
		t.Errorf("partitions hold %v (%d users), truth says %v (%d)", per, len(counts), tr.PerPartition, tr.Distinct)
	}
}

// TestKafkaExampleCheck: check accepts an answer that holds the truth and
// rejects one that does not, naming what is wrong.
func TestKafkaExampleCheck(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, "-n", "5000", "-users", "500", "-truth", filepath.Join(dir, "truth.json"))
	tr, err := computeTruth(o, 6)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.write(o.truth); err != nil {
		t.Fatal(err)
	}
	d := int64(tr.Distinct)
	top := tr.Top[0]
	for _, c := range []struct {
		name, answer string
		code         int
		says         string
	}{
		{"distinct-inside", fmt.Sprintf(`{"distinct":%d,"lower":%d,"upper":%d,"records":5000}`, d+3, d-10, d+10), 0, "ok    distinct"},
		{"distinct-outside", fmt.Sprintf(`{"distinct":%d,"lower":%d,"upper":%d,"records":5000}`, d+30, d+20, d+40), 1, "WRONG distinct"},
		{"records-short", fmt.Sprintf(`{"distinct":%d,"lower":%d,"upper":%d,"records":4999}`, d, d, d), 1, "WRONG records 4999"},
		{"top-inside", fmt.Sprintf(`{"records":5000,"capacity":100,"items":[{"key":%q,"count":%d,"lower":%d,"upper":%d}]}`, top.Key, top.Count, top.Count, top.Count), 0, "ok    top " + top.Key},
		{"top-not-top", fmt.Sprintf(`{"records":5000,"capacity":100,"items":[{"key":%q,"count":1,"lower":0,"upper":%d}]}`, tr.Top[len(tr.Top)-1].Key+"x", top.Count), 1, "below the true top 1"},
		{"freq-outside", fmt.Sprintf(`{"records":5000,"width":100,"items":[{"key":%q,"count":%d,"lower":%d,"upper":%d}]}`, top.Key, top.Count+5, top.Count+1, top.Count+9), 1, "WRONG freq " + top.Key},
		{"stats", fmt.Sprintf(`{"count":5000,"mean":%v,"mean_lower":%v,"mean_upper":%v,"min":%v,"max":%v,"records":5000}`,
			tr.Latency.Mean, tr.Latency.Mean-1, tr.Latency.Mean+1, tr.Latency.Min, tr.Latency.Max), 0, "ok    mean"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb strings.Builder
			in := `{"records":1}` + "\n" + c.answer + "\n" // an --interval snapshot, then the answer
			code := runCheck([]string{"-truth", o.truth}, strings.NewReader(in), &out, &errb)
			if code != c.code || !strings.Contains(out.String(), c.says) {
				t.Errorf("exit %d, want %d; output %q (stderr %q), want it to say %q", code, c.code, out.String(), errb.String(), c.says)
			}
		})
	}
}

// buildStreamstat builds the streamstat command into dir.
func buildStreamstat(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "streamstat")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/streamstat/streamstat/cmd/streamstat").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKafkaExampleEndToEnd is the README's walk through on a short
// stream: two streamstat workers in one group, one killed with SIGKILL
// mid-stream, a third started; the group's merged answer, checked by
// check against the truth file, holds: the exact record count, the true
// distinct count within its bounds, every top user's true count within
// its bounds.
func TestKafkaExampleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds streamstat and runs three worker processes")
	}
	dir := t.TempDir()
	bin := buildStreamstat(t, dir)
	o := testOptions(t, "-data", dir, "-n", "60000", "-users", "5000", "-rate", "15000")
	addrs := make(chan []string, 1)
	o.started = func(a []string) { addrs <- a }
	produced := make(chan struct{})
	var once sync.Once
	o.progress = func(n int64) {
		if n >= 10000 {
			once.Do(func() { close(produced) })
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, o, io.Discard) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var brokers string
	select {
	case a := <-addrs:
		brokers = strings.Join(a, ",")
	case err := <-served:
		served <- nil // for the deferred wait
		t.Fatalf("serve: %v", err)
	}
	select {
	case <-produced: // the rest of the stream arrives while the workers run
	case <-time.After(30 * time.Second):
		t.Fatal("10000 records not produced after 30s")
	}
	worker := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append(args, "--kafka-brokers", brokers, "--kafka-topic", "clicks", "--kafka-session", "1s")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return cmd
	}
	a := worker("distinct", "-f", "1", "--kafka-group", "demo")
	time.Sleep(500 * time.Millisecond)
	b := worker("distinct", "-f", "1", "--kafka-group", "demo")
	top := worker("top", "-k", "10", "-f", "1", "--kafka-group", "demo-top")
	time.Sleep(time.Second)
	a.Process.Signal(syscall.SIGKILL)
	a.Wait()
	c := worker("distinct", "-f", "1", "--kafka-group", "demo")

	for _, group := range []string{"demo", "demo-top"} {
		var answer []byte
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, err := exec.Command(bin, "merge", "--kafka-brokers", brokers, "--kafka-group", group, "--kafka-topic", "clicks", "--format", "json").Output()
			if err == nil && strings.Contains(string(out), `"complete":true`) {
				answer = out
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %s: no complete answer after 60s: %s %v", group, out, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		var report strings.Builder
		if code := runCheck([]string{"-truth", filepath.Join(dir, "truth.json")}, strings.NewReader(string(answer)), &report, &report); code != 0 {
			t.Errorf("group %s: check exit %d:\n%s", group, code, report.String())
		}
		if n := strings.Count(report.String(), "ok    "); group == "demo-top" && n != 11 {
			t.Errorf("group %s: %d figures checked, want the records and 10 users:\n%s", group, n, report.String())
		}
	}
	for _, w := range []*exec.Cmd{b, c, top} {
		w.Process.Signal(syscall.SIGTERM)
		if err := w.Wait(); err != nil {
			t.Errorf("%v: %v", w.Args[:2], err)
		}
	}
}
