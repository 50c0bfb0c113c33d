package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/checkpointtest"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/job"
)

// newestCheckpoint describes the newest complete checkpoint in dir: its
// id, its number of workers and their positions.
func newestCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	store, err := checkpoint.NewDirStore(dir, 0, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.Latest()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := checkpointtest.Positions(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("checkpoint %d, %d workers at %v", m.ID, job.CheckpointWorkers(dir), ps)
}

// TestResumeWrongStreamKeepsCheckpoint: `--resume -j 3` of a checkpoint
// taken with -j 2, over another stdin that stalls before the bytes the
// checkpoint counted are all read again, fails (exit 1) without saving a
// checkpoint over many intervals; the same over the right stdin
// interrupted then saves none either, and says so. Either way the newest
// checkpoint stays the -j 2 one, so a later --resume (taking its 2
// workers) prints exactly what an uninterrupted run prints.
func TestResumeWrongStreamKeepsCheckpoint(t *testing.T) {
	data := numbered(20000, 300)
	half := middleLine(data)
	args := []string{"top", "--format", "json"}
	want, _, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(args, "-j", "2")...)
	if code != 0 {
		t.Fatalf("reference run: exit %d", code)
	}
	dir := t.TempDir()
	ck := []string{"--checkpoint", dir, "--checkpoint-interval", "2ms"}
	interruptAt(t, data, half, slices.Concat(args, []string{"-j", "2"}, ck))
	newest := newestCheckpoint(t, dir)
	other := []byte(data)
	other[10] ^= 1 // in the first chunk, counted by worker 0
	for _, tc := range []struct {
		name      string
		stdin     string
		interrupt bool
		code      int
		stderr    string
	}{
		{"other stream", string(other), false, 1, "not the stream the checkpoint was taken of"},
		{"same stream, interrupted", data, true, 0, "no checkpoint taken, resuming goes on from checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGatedReader(tc.stdin[:100], tc.stdin[100:])
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				stderr string
				code   int
			}
			done := make(chan result, 1)
			go func() {
				_, stderr, code := runIn(t, runOpts{stdin: g, ctx: ctx, chunk: 4096}, slices.Concat(args, []string{"-j", "3", "--resume"}, ck)...)
				done <- result{stderr, code}
			}()
			<-g.reached
			time.Sleep(20 * time.Millisecond) // 10 checkpoint intervals
			var r result
			if tc.interrupt {
				cancel()
				r = <-done
				close(g.gate)
			} else {
				close(g.gate)
				r = <-done
			}
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) || strings.Contains(r.stderr, "saved") {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			if got := newestCheckpoint(t, dir); got != newest {
				t.Errorf("after the run, the newest checkpoint is %s; want %s still", got, newest)
			}
		})
	}
	got, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, slices.Concat(args, []string{"--resume"}, ck)...)
	if code != 0 || got != want {
		t.Fatalf("resumed run: exit %d, stderr %q\n got %s\nwant %s", code, stderr, got, want)
	}
}
