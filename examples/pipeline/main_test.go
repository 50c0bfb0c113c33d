package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clicks generates n lines with the example's own -gen and returns them.
func clicks(t *testing.T, n int, extra ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	args := append([]string{"-gen", strconv.Itoa(n)}, extra...)
	if err := run(context.Background(), args, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// truth counts the users and the clicks of every page exactly.
func truth(data []byte) (users int, pages map[string]int) {
	u := map[string]bool{}
	pages = map[string]int{}
	for line := range bytes.Lines(data) {
		f := strings.Fields(string(line))
		u[f[0]] = true
		pages[f[1]]++
	}
	return len(u), pages
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clicks.txt")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	usersLine = regexp.MustCompile(`(?m)^users\s+(\d+)\s+\(95% bounds (\d+) \.\. (\d+)\)$`)
	pageLine  = regexp.MustCompile(`(?m)^\s+(p\d+)\s+(\d+)\s+\((\d+) \.\. (\d+)\)$`)
)

// TestRunAnswers: on a file read in parallel ranges, the clicks and the
// top pages are exact (500 pages fit the TopK), and the distinct users lie
// within the printed bounds.
func TestRunAnswers(t *testing.T) {
	data := clicks(t, 100_000, "-users", "30000")
	path := writeFile(t, data)
	wantUsers, pages := truth(data)
	for _, par := range []string{"1", "3"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-p", par, "-k", "5", path}, nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if !strings.HasPrefix(got, "clicks    100000\n") {
			t.Errorf("-p %s: output does not start with the click count:\n%s", par, got)
		}
		m := usersLine.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("-p %s: no users line in\n%s", par, got)
		}
		lo, _ := strconv.Atoi(m[2])
		hi, _ := strconv.Atoi(m[3])
		if wantUsers < lo || wantUsers > hi {
			t.Errorf("-p %s: %d distinct users outside the bounds %s .. %s", par, wantUsers, m[2], m[3])
		}
		type kv struct {
			k string
			v int
		}
		var want []kv
		for k, v := range pages {
			want = append(want, kv{k, v})
		}
		sort.Slice(want, func(i, j int) bool { return want[i].v > want[j].v })
		var wantTop strings.Builder
		for _, e := range want[:5] {
			fmt.Fprintf(&wantTop, "  %-8s %d  (%d .. %d)\n", e.k, e.v, e.v, e.v)
		}
		if !strings.HasSuffix(got, wantTop.String()) {
			t.Errorf("-p %s: top pages\n%s\nwant\n%s", par, got, wantTop.String())
		}
	}
}

// TestKillAndResume builds the example, starts it with checkpoints, kills
// it with SIGKILL once a checkpoint is published, and runs it again with
// -resume: it must print exactly what an uninterrupted run prints.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	bin := filepath.Join(t.TempDir(), "pipeline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	path := writeFile(t, clicks(t, 300_000))
	want, err := exec.Command(bin, "-p", "2", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ckpt")
	// -cost makes the job last long enough to be killed mid-run.
	cmd := exec.Command(bin, "-p", "2", "-checkpoint", dir, "-every", "20ms", "-cost", "3us", path)
	var partial bytes.Buffer
	cmd.Stdout = &partial
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "chk-*", "MANIFEST")); len(m) > 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the job ended (%v) before its first checkpoint; make the input larger", err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no checkpoint within a minute")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the job was not killed mid-run: %v (output %q)", err, partial.String())
	}
	if partial.Len() != 0 {
		t.Fatalf("the killed job printed %q", partial.String())
	}

	// A fresh run refuses the directory; -resume goes on from it.
	if out, err := exec.Command(bin, "-checkpoint", dir, path).CombinedOutput(); err == nil || !strings.Contains(string(out), "-resume") {
		t.Errorf("a fresh run over old checkpoints: %v, %s", err, out)
	}
	// The same job (a checkpoint of another graph is refused), resumed.
	resume := exec.Command(bin, "-p", "2", "-checkpoint", dir, "-every", "20ms", "-cost", "3us", "-resume", path)
	var stderr bytes.Buffer
	resume.Stderr = &stderr
	got, err := resume.Output()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "resumed from checkpoint") {
		t.Errorf("the resumed run did not restore a checkpoint: %s", stderr.String())
	}
	if string(got) != string(want) {
		t.Errorf("after kill -9 and -resume:\n%s\nuninterrupted:\n%s", got, want)
	}
}

// rateReader yields data at about rate bytes per second, like a live
// stream arriving on a pipe.
type rateReader struct {
	data  []byte
	rate  float64
	start time.Time
	off   int
}

func (r *rateReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	if r.start.IsZero() {
		r.start = time.Now()
	}
	due := int(time.Since(r.start).Seconds() * r.rate)
	if due <= r.off {
		time.Sleep(time.Millisecond)
		due = int(time.Since(r.start).Seconds() * r.rate)
	}
	n := copy(p, r.data[r.off:min(max(due, r.off+1), len(r.data))])
	r.off += n
	return n, nil
}

// TestShedInFrontOfSlowOperator: a stream arriving faster than the slow
// operator takes is shed at the source; the page counts, scaled back up,
// have bounds that hold the true counts, and the click count is exact.
func TestShedInFrontOfSlowOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of wall time")
	}
	data := clicks(t, 400_000, "-seed", "7")
	_, pages := truth(data)
	in := &rateReader{data: data, rate: float64(len(data)) / 1.5} // 1.5 s of stream
	var out bytes.Buffer
	args := []string{"-shed", "-cost", "20us", "-p", "2", "-k", "10", "-confidence", "0.999"}
	if err := run(context.Background(), args, in, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Log("\n" + got)
	m := regexp.MustCompile(`^clicks    400000  \(shed (\d+) of 400000`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no exact click count with what was shed in\n%s", got)
	}
	if shed, _ := strconv.Atoi(m[1]); shed < 40_000 {
		t.Errorf("shed only %d of 400000 records in front of an operator taking 20us each", shed)
	}
	items := pageLine.FindAllStringSubmatch(got, -1)
	if len(items) != 10 {
		t.Fatalf("%d top pages in\n%s", len(items), got)
	}
	misses := 0
	for _, it := range items {
		lo, _ := strconv.Atoi(it[3])
		hi, _ := strconv.Atoi(it[4])
		if f := pages[it[1]]; f < lo || f > hi {
			misses++
			t.Logf("page %s: %d clicks, outside %d .. %d", it[1], f, lo, hi)
		}
	}
	// Each bound holds at 99.9%: two misses in ten happen once in 20,000
	// runs.
	if misses > 1 {
		t.Errorf("%d of 10 page counts outside their 99.9%% bounds", misses)
	}
}

func TestUsageErrors(t *testing.T) {
	path := writeFile(t, []byte("u1 p1\n"))
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"resume without a directory", []string{"-resume", path}, "-resume needs -checkpoint"},
		{"shed with a file", []string{"-shed", path}, "live stream"},
		{"no parallelism", []string{"-p", "0", path}, "at least 1"},
		{"missing file", []string{filepath.Join(t.TempDir(), "none")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("run(%q) = %v; want an error saying %q", tc.args, err, tc.msg)
			}
		})
	}
}
