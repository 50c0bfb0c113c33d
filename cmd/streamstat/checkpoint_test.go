package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/checkpointtest"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/job"
	"github.com/streamstat/streamstat/sketch"
)

// numbered returns n lines "kA B" with A cycling over keys and B over 113
// values, so that every subcommand (stats -f 2 included) has work.
func numbered(n, keys int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "k%d %d\n", i%keys, i%113)
	}
	return b.String()
}

// covered returns how many bytes of input 0 the newest complete checkpoint
// in dir accounts for, summed over the workers, or -1 without one.
func covered(dir string) int64 {
	ps, err := checkpointtest.Positions(dir)
	if err != nil {
		return -1
	}
	var sum int64
	for _, p := range ps {
		if in, off, started := job.DecodePosition(p); in == 0 && started {
			sum += off
		}
	}
	return sum
}

// TestResumeAfterInterrupt: a run with --checkpoint stopped after half of
// its stdin, then resumed with --resume over the same stream piped again,
// writes exactly what an uninterrupted run writes, for every counting
// subcommand.
func TestResumeAfterInterrupt(t *testing.T) {
	data := numbered(40000, 977)
	half := middleLine(data)
	for _, args := range [][]string{
		{"distinct"},
		{"top", "-k", "5"},
		{"freq", "k1", "k7", "nope"},
		{"sample", "-k", "5"},
		{"stats", "-f", "2"},
	} {
		t.Run(args[0], func(t *testing.T) {
			args = append(args, "--format", "json")
			if args[0] != "sample" { // one worker, always
				args = append(args, "-j", "2")
			}
			checkResumed(t, data, half, args)
		})
	}
}

// interruptAt runs streamstat with args (which checkpoint to a directory)
// over a stream that pauses after data[:at], waits until a checkpoint
// holds all of data[:at], and interrupts the run.
func interruptAt(t *testing.T, data string, at int, args []string) {
	t.Helper()
	dir := args[slices.Index(args, "--checkpoint")+1]
	g := newGatedReader(data[:at], data[at:])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, ctx: ctx, chunk: 4096}, args...)
		done <- code
	}()
	<-g.reached
	// The workers wait on the quiet stream, and checkpoints go on.
	waitFor(t, "a checkpoint of the first part", func() bool { return covered(dir) == int64(at) })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("interrupted run: exit %d", code)
	}
	close(g.gate)
}

// checkResumed runs streamstat with args over data, then again with a
// checkpoint, interrupted after data[:half] (interruptAt) and resumed:
// the resumed run's output must be the uninterrupted one's.
func checkResumed(t *testing.T, data string, half int, args []string) {
	t.Helper()
	want, _, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
	if code != 0 {
		t.Fatalf("reference run: exit %d", code)
	}
	ck := slices.Concat(args, []string{"--checkpoint", t.TempDir(), "--checkpoint-interval", "2ms"})
	interruptAt(t, data, half, ck)
	got, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(ck, "--resume")...)
	if code != 0 || got != want {
		t.Fatalf("resumed run: exit %d, stderr %q\n got %s\nwant %s", code, stderr, got, want)
	}
}

// TestResumeShorterStream: a stream piped again to --resume that ends
// before the checkpoint's offsets is not the stream of the checkpoint: exit
// 1, saying so, rather than the checkpoint's answer as if it were.
func TestResumeShorterStream(t *testing.T) {
	data := numbered(20000, 300)
	half := middleLine(data)
	ck := []string{"top", "-j", "2", "--checkpoint", t.TempDir(), "--checkpoint-interval", "2ms"}
	interruptAt(t, data, half, ck)
	_, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data[:half/2]), chunk: 4096}, append(ck, "--resume")...)
	if code != 1 || !strings.Contains(stderr, "streamstat: stdin: input ended") || !strings.Contains(stderr, "not the stream") {
		t.Errorf("exit %d, stderr %q; want 1 and a message that the stream is too short", code, stderr)
	}
}

// TestResumeSkipsDamagedCheckpoint: when the newest checkpoint is damaged,
// --resume says so, falls back to an older one (or the beginning), and the
// answer is still that of an uninterrupted run.
func TestResumeSkipsDamagedCheckpoint(t *testing.T) {
	data := numbered(20000, 300)
	args := []string{"top", "-k", "3", "--format", "json", "-j", "2"}
	want, _, _ := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
	dir := t.TempDir()
	ck := append(args, "--checkpoint", dir, "--checkpoint-interval", "2ms")
	half := middleLine(data)
	g := newGatedReader(data[:half], data[half:])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		runIn(t, runOpts{stdin: g, ctx: ctx, chunk: 4096}, ck...)
		close(done)
	}()
	<-g.reached
	waitFor(t, "two checkpoints", func() bool {
		ents, _ := filepath.Glob(filepath.Join(dir, "chk-*", "MANIFEST"))
		return len(ents) >= 2
	})
	cancel()
	<-done
	close(g.gate)

	store, err := checkpoint.NewDirStore(dir, 0, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.Latest()
	if err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(dir, fmt.Sprintf("chk-%020d", m.ID), "part-op-0-0")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(part, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(ck, "--resume")...)
	if code != 0 || got != want {
		t.Fatalf("resumed run: exit %d, stderr %q\n got %s\nwant %s", code, stderr, got, want)
	}
	if n := strings.Count(stderr, fmt.Sprintf("streamstat: checkpoint %d in %s skipped", m.ID, dir)); n != 1 {
		t.Errorf("stderr %q says %d times that the damaged checkpoint was skipped; want once", stderr, n)
	}
}

// TestCheckpointWriteFails: a checkpoint that cannot be written (here the
// directory was replaced by a file: every write fails, as on a full disk)
// is reported on stderr and fails alone: the run goes on to the right
// answer, and exits 0.
func TestCheckpointWriteFails(t *testing.T) {
	data := numbered(20000, 300)
	half := middleLine(data)
	args := []string{"top", "--format", "json", "-j", "2"}
	want, _, _ := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
	dir := filepath.Join(t.TempDir(), "ck")
	g := newGatedReader(data[:half], data[half:])
	var stderr syncBuffer
	done := make(chan string)
	go func() {
		out, _, code := runIn(t, runOpts{stdin: g, chunk: 4096, stderr: &stderr},
			append(args, "--checkpoint", dir, "--checkpoint-interval", "2ms")...)
		if code != 0 {
			out = fmt.Sprintf("exit %d", code)
		}
		done <- out
	}()
	<-g.reached
	waitFor(t, "a checkpoint", func() bool { return covered(dir) > 0 })
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed checkpoint", func() bool {
		return strings.Contains(stderr.String(), "failed (the run goes on)")
	})
	close(g.gate)
	if got := <-done; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if !strings.Contains(stderr.String(), "streamstat: warning: checkpoint ") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// TestResumeOtherJob: --resume refuses a checkpoint of another job (other
// flags, another input, a file that changed) with exit 1 and a message
// that names the difference; without a checkpoint it starts over.
func TestResumeOtherJob(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte(numbered(1000, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(dir, "ck")
	_, stderr, code := runIn(t, runOpts{}, "top", "--checkpoint", ck, "--resume", in)
	if code != 0 || !strings.Contains(stderr, "no checkpoint in "+ck+" to resume: starting from the beginning") {
		t.Fatalf("resume without a checkpoint: exit %d, stderr %q", code, stderr)
	}
	// A checkpoint to refuse: the job file is what --resume compares.
	store, err := checkpoint.NewDirStore(ck, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.WritePart(1, "src-0", make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Publish(checkpoint.Manifest{ID: 1, Parts: []checkpoint.Part{p}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		change func()
		want   string
	}{
		{"other flags", []string{"top", "-k", "3", in}, nil, `"k 3"`},
		{"other subcommand", []string{"distinct", in}, nil, `"command distinct"`},
		{"other input", []string{"top"}, nil, `"stream name \"stdin\""`},
		{"grown file", []string{"top", in}, func() {
			f, _ := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("more\n")
			f.Close()
		}, "where this run has"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				tc.change()
			}
			_, stderr, code := runIn(t, runOpts{}, append(tc.args, "--checkpoint", ck, "--resume")...)
			if code != 1 || !strings.Contains(stderr, "is of another job") || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and a message naming %s", code, stderr, tc.want)
			}
		})
	}
}

// TestResumeTakesWorkers: without -j, a resumed run takes the checkpoint's
// number of workers (a checkpoint can move to a machine with other CPUs),
// and gives the uninterrupted run's answer byte for byte.
func TestResumeTakesWorkers(t *testing.T) {
	data := numbered(20000, 300)
	half := middleLine(data)
	args := []string{"top", "--format", "json", "-j", "3"}
	want, _, _ := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
	dir := t.TempDir()
	interruptAt(t, data, half, append(args, "--checkpoint", dir, "--checkpoint-interval", "2ms"))
	resume := []string{"top", "--format", "json", "--checkpoint", dir, "--resume"}
	got, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, resume...)
	if code != 0 || got != want {
		t.Fatalf("resume without -j: exit %d, stderr %q\n got %s\nwant %s", code, stderr, got, want)
	}
}

func TestCheckpointUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"top", "--resume"},
		{"top", "--checkpoint-interval", "1s"},
		{"top", "--checkpoint", "d", "--checkpoint-interval", "0s"},
		{"dedup", "--checkpoint", "d"},
		{"merge", "--checkpoint", "d", "x"},
	} {
		if _, stderr, code := runIn(t, runOpts{}, args...); code != 2 {
			t.Errorf("%v: exit %d, stderr %q; want 2", args, code, stderr)
		}
	}
}

// TestKillAndResume kills the real binary with SIGKILL mid-run and resumes
// it: the resumed run prints exactly what an uninterrupted run prints.
func TestKillAndResume(t *testing.T) {
	bin := streamstatBin(t)
	data := numbered(200000, 5000)
	args := []string{"top", "-k", "10", "--format", "json", "-j", "2"}

	ref := exec.Command(bin, args...)
	ref.Stdin = strings.NewReader(data)
	want, err := ref.Output()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("stdin", func(t *testing.T) {
		dir := t.TempDir()
		ck := append(args, "--checkpoint", dir, "--checkpoint-interval", "5ms")
		half := middleLine(data)
		cmd := exec.Command(bin, ck...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go stdin.Write([]byte(data[:half])) // and the stream stays open
		waitFor(t, "a checkpoint of the first half", func() bool { return covered(dir) == int64(half) })
		cmd.Process.Kill()
		err = cmd.Wait()
		stdin.Close()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("the run ended with %v, not by SIGKILL", err)
		}
		resumed := exec.Command(bin, append(ck, "--resume")...)
		resumed.Stdin = strings.NewReader(data)
		var stderr bytes.Buffer
		resumed.Stderr = &stderr
		got, err := resumed.Output()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("resumed run: %v, stderr %q\n got %s\nwant %s", err, stderr.String(), got, want)
		}
	})

	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		in := filepath.Join(dir, "in")
		// Big enough that the run is still going after a few
		// checkpoints.
		big := strings.Repeat(data, 40)
		if err := os.WriteFile(in, []byte(big), 0o644); err != nil {
			t.Fatal(err)
		}
		ref := exec.Command(bin, append(args, in)...)
		want, err := ref.Output()
		if err != nil {
			t.Fatal(err)
		}
		ck := append(args, "--checkpoint", filepath.Join(dir, "ck"), "--checkpoint-interval", "1ms", in)
		cmd := exec.Command(bin, ck...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a checkpoint", func() bool { return covered(filepath.Join(dir, "ck")) > 0 })
		cmd.Process.Kill()
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Logf("the run finished before the kill; resuming from its last checkpoint all the same")
		}
		got, err := exec.Command(bin, append(ck, "--resume")...).Output()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("resumed run: %v\n got %s\nwant %s", err, got, want)
		}
	})
}

// pausing is a lockstep stream (see shed_test.go) that stops after its
// first pause pieces until gate closes; it signals reached when it does.
type pausing struct {
	*lockstep
	pause   int
	reached chan struct{}
	gate    chan struct{}
}

func (p *pausing) Read(b []byte) (int, error) {
	if p.next == p.pause && p.reached != nil {
		close(p.reached)
		p.reached = nil
		<-p.gate
	}
	return p.lockstep.Read(b)
}

// TestResumeShed: --shed with --checkpoint. On a stream that never
// outruns counting (so nothing is shed and the answer does not depend on
// timing), an interrupted and resumed run writes what an uninterrupted one
// writes, shedding report included: the operator, behind a channel under
// --shed, takes its snapshot after the worker read on, and the counters
// must still be those at the barrier.
func TestResumeShed(t *testing.T) {
	var keys []string
	for i := range 500 {
		for range max(1, 50/(i+1)) {
			keys = append(keys, fmt.Sprintf("k%d", i))
		}
	}
	text := keyLines(keys, 6000)
	const perPiece, pause = 50, 60
	halfBytes := len(strings.Join(newLockstep(text, perPiece).pieces[:pause], ""))
	for _, args := range [][]string{
		{"top", "-k", "5"},
		{"distinct", "--precision", "14"}, // the least under --shed
		{"freq", "k0", "k3", "k499"},
	} {
		t.Run(args[0], func(t *testing.T) {
			args = append(args, "--shed", "--max-latency", "1s", "-j", "1", "--format", "json")
			l := newLockstep(text, perPiece)
			want, _, code := runShed(t, l, l.cost, args...)
			if code != 0 || !strings.Contains(want, `"shed":0`) {
				t.Fatalf("reference run: exit %d: %s", code, want)
			}
			dir := t.TempDir()
			ck := append(args, "--checkpoint", dir, "--checkpoint-interval", "2ms")

			p := &pausing{lockstep: newLockstep(text, perPiece), pause: pause, reached: make(chan struct{}), gate: make(chan struct{})}
			reached := p.reached
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int)
			go func() {
				e := defaultEnv(p, io.Discard, io.Discard)
				e.opCost = p.cost
				done <- runContext(ctx, ck, e)
			}()
			<-reached
			waitFor(t, "a checkpoint of the first part", func() bool { return covered(dir) == int64(halfBytes) })
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("interrupted run: exit %d", code)
			}
			close(p.gate)

			// The resumed run reads and skips the first part: count its
			// lines as done, as the lockstep waits for them otherwise.
			l = newLockstep(text, perPiece)
			l.done.Store(int64(pause * perPiece))
			got, stderr, code := runShed(t, l, l.cost, append(ck, "--resume")...)
			if code != 0 || got != want {
				t.Fatalf("resumed run: exit %d, stderr %q\n got %s\nwant %s", code, stderr, got, want)
			}
		})
	}
}

// TestInterruptTakesCheckpoint: SIGINT or SIGTERM (here, ctx) on a run
// with --checkpoint takes a last checkpoint before it stops, whatever the
// interval, so --resume goes on from where the run was interrupted.
func TestInterruptTakesCheckpoint(t *testing.T) {
	data := numbered(20000, 300)
	half := middleLine(data)
	args := []string{"top", "-k", "5", "--format", "json", "-j", "2"}
	want, _, _ := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
	dir := t.TempDir()
	ck := append(args, "--checkpoint", dir, "--checkpoint-interval", "1h")

	g := newGatedReader(data[:half], data[half:])
	tick := make(chan time.Time)
	var out, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, chunk: 4096, ctx: ctx, ticker: tick, stdout: &out, stderr: &stderr}, append(ck, "--interval", "1h")...)
		done <- code
	}()
	<-g.reached
	// Until the workers have counted something, then interrupt.
	for n := 1; !strings.Contains(out.String(), `{"records":`) || strings.Contains(lastLine(out.String()), `{"records":0,`); n++ {
		tick <- time.Now()
		waitFor(t, "a snapshot", func() bool { return strings.Count(out.String(), "\n") >= n })
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("interrupted run: exit %d", code)
	}
	close(g.gate)
	if !strings.Contains(stderr.String(), "streamstat: interrupted: checkpoint 1 saved in "+dir) || covered(dir) <= 0 {
		t.Fatalf("no checkpoint on interrupt: stderr %q, covered %d", stderr.String(), covered(dir))
	}
	got, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(ck, "--resume")...)
	if code != 0 || got != want {
		t.Fatalf("resumed run: exit %d, stderr %q\n got %s\nwant %s", code, errOut, got, want)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// FuzzOperatorState: the checkpointed state of distinct's and sample's
// operators decodes without panic to an error wrapping a sentinel, or to an
// operator that encodes back to the same bytes.
func FuzzOperatorState(f *testing.F) {
	newOps := []func() pipeline.Stateful{
		func() pipeline.Stateful {
			s, _ := setupDistinct(&options{precision: 8}, nil)
			op, _ := s.newOp(0)
			return op.(pipeline.Stateful)
		},
		func() pipeline.Stateful {
			s, _ := setupSample(&options{k: 3, seed: 1}, nil)
			op, _ := s.newOp(0)
			return op.(pipeline.Stateful)
		},
	}
	var b pipeline.Batch
	for i := range 3000 {
		b.Add([]byte(fmt.Sprint(i % 700)))
	}
	for which, newOp := range newOps {
		for _, n := range []int{0, 100, 3000, 20000} { // 20000: distinct goes dense
			op := newOp()
			var in pipeline.Batch
			for i := range n {
				in.AddRecord(&b, i%b.Len())
			}
			op.Process(&in, nil)
			data, err := op.MarshalBinary()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(which), data)
			f.Add(uint8(which), data[:len(data)/2])
		}
	}
	for _, data := range oldShedDistinctStates(f) { // what distinct --shed saved before
		f.Add(uint8(0), data)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		op := newOps[int(which)%len(newOps)]()
		if err := op.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, sketch.ErrTruncated) && !errors.Is(err, sketch.ErrCorrupt) && !errors.Is(err, sketch.ErrVersion) &&
				!errors.Is(err, sketch.ErrKind) && !errors.Is(err, sketch.ErrChecksum) && !errors.Is(err, sketch.ErrNotEncoding) &&
				!errors.Is(err, sketch.ErrIncompatible) && !errors.Is(err, sketch.ErrHash) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		again, err := op.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("decoded state re-encodes to %x, not %x", again, data)
		}
	})
}

// middleLine returns the offset of the first line starting after the
// middle of data.
func middleLine(data string) int {
	return strings.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
}

// TestResumePastStream: a checkpoint taken in the second input (a FIFO,
// after stdin ended) resumes with stdin piped again: each worker reads and
// discards its share of stdin (drain), so the stream's reader is never held
// up, and goes on in the FIFO from its offset.
func TestResumePastStream(t *testing.T) {
	first, second := numbered(5000, 50), numbered(20000, 300)
	half := middleLine(second)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	args := []string{"top", "-k", "5", "--format", "json", "-j", "2", "-", fifo}
	ck := append(args, "--checkpoint", filepath.Join(dir, "ck"), "--checkpoint-interval", "2ms")
	run := func(ctx context.Context, args []string, write func(f *os.File)) (string, int) {
		t.Helper()
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(fifo)
		go func() {
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			defer f.Close()
			write(f)
		}()
		out, _, code := runIn(t, runOpts{stdin: strings.NewReader(first), chunk: 4096, ctx: ctx}, args...)
		return out, code
	}
	all := func(f *os.File) { f.WriteString(second) }
	want, code := run(context.Background(), args, all)
	if code != 0 {
		t.Fatalf("reference run: exit %d", code)
	}

	// Into the second input: all of stdin, half of the FIFO, and wait.
	ctx, cancel := context.WithCancel(context.Background())
	gate := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx, ck, func(f *os.File) {
			f.WriteString(second[:half])
			<-gate
		})
	}()
	waitFor(t, "a checkpoint in the second input", func() bool {
		store, err := checkpoint.NewDirStore(filepath.Join(dir, "ck"), 0, func(string, ...any) {})
		if err != nil {
			return false
		}
		m, err := store.Latest()
		if err != nil {
			return false
		}
		var sum int64
		for i := range 2 {
			data, err := store.ReadPart(m, fmt.Sprintf("src-%d", i))
			if err != nil {
				return false
			}
			in, off, _ := job.DecodePosition(int64(binary.LittleEndian.Uint64(data)))
			if in != 1 {
				return false
			}
			sum += off
		}
		return sum == int64(half)
	})
	cancel()
	close(gate)
	<-done

	got, code := run(context.Background(), append(ck, "--resume"), all)
	if code != 0 || got != want {
		t.Fatalf("resumed run: exit %d\n got %s\nwant %s", code, got, want)
	}
}

// TestResumeOtherWorkers: a run checkpointed with -j 2 resumes with -j 1
// and with -j 3 (--resume -j M): distinct writes exactly what an
// uninterrupted run writes (HLL merges exactly); top's and freq's counts
// and stats' quantiles stay within the bounds they print, and stats'
// count, min and max are exact.
func TestResumeOtherWorkers(t *testing.T) {
	const n = 40000
	data := numbered(n, 977)
	half := middleLine(data)
	exact := map[string]uint64{} // by first field
	for i := range n {
		exact[fmt.Sprintf("k%d", i%977)]++
	}
	type bounded struct {
		Key          string
		Count        uint64
		Lower, Upper uint64
	}
	type answer struct {
		Records   uint64
		Items     []bounded
		Count     uint64
		Min, Max  float64
		Quantiles []struct{ Q, Value, Lower, Upper float64 }
	}
	for _, args := range [][]string{
		{"distinct"},
		{"top", "-k", "5", "-f", "1"},
		{"freq", "-f", "1", "k1", "k7", "nope"},
		{"stats", "-f", "2"},
	} {
		args = append(args, "--format", "json")
		want, _, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(args, "-j", "2")...)
		if code != 0 {
			t.Fatalf("%s: reference run: exit %d", args[0], code)
		}
		dir := t.TempDir()
		ck := []string{"--checkpoint", dir, "--checkpoint-interval", "2ms"}
		interruptAt(t, data, half, slices.Concat(args, []string{"-j", "2"}, ck))
		for _, m := range []string{"1", "3"} {
			t.Run(args[0]+" -j "+m, func(t *testing.T) {
				d := t.TempDir()
				if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				got, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096},
					slices.Concat(args, []string{"-j", m, "--checkpoint", d, "--resume"})...)
				if code != 0 {
					t.Fatalf("resumed run: exit %d, stderr %q", code, stderr)
				}
				if args[0] == "distinct" {
					if got != want {
						t.Fatalf("got %s\nwant %s", got, want)
					}
					return
				}
				var a answer
				if err := json.Unmarshal([]byte(got), &a); err != nil {
					t.Fatalf("%v: %s", err, got)
				}
				for _, it := range a.Items {
					if x := exact[it.Key]; x < it.Lower || x > it.Upper {
						t.Errorf("%s: count %d, bounds [%d, %d]; exact %d", it.Key, it.Count, it.Lower, it.Upper, x)
					}
				}
				if args[0] == "stats" {
					if a.Count != n || a.Min != 0 || a.Max != 112 {
						t.Errorf("count %d, min %v, max %v; want %d, 0, 112", a.Count, a.Min, a.Max, n)
					}
					for _, q := range a.Quantiles {
						// The exact quantile of i%113 over n records.
						v := float64(exactQuantile(n, 113, q.Q))
						if v < q.Lower || v > q.Upper {
							t.Errorf("quantile %v: %v in [%v, %v]; exact %v", q.Q, q.Value, q.Lower, q.Upper, v)
						}
					}
				} else if len(a.Items) == 0 || a.Records != n {
					t.Errorf("answer %s", got)
				}
			})
		}
	}
}

// exactQuantile is the q-quantile (lower, by rank ceil(q n)) of the values
// i mod m for i < n.
func exactQuantile(n, m int, q float64) int {
	vals := make([]int, n)
	for i := range vals {
		vals[i] = i % m
	}
	slices.Sort(vals)
	r := int(math.Ceil(q*float64(n))) - 1
	return vals[max(r, 0)]
}
