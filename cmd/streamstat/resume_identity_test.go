package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/internal/checkpointtest"
	"github.com/streamstat/streamstat/pipeline/job"
)

// --resume recognizes its inputs by what they are, not by their names
// (issue 11, item 10).

// coveredIn returns how many bytes of input k the newest complete
// checkpoint in dir accounts for, summed over the workers, or -1 if it
// has a worker elsewhere.
func coveredIn(dir string, k int64) int64 {
	ps, err := checkpointtest.Positions(dir)
	if err != nil {
		return -1
	}
	var sum int64
	for _, p := range ps {
		in, off, _ := job.DecodePosition(p)
		if int64(in) != k {
			return -1
		}
		sum += off
	}
	return sum
}

// interruptIn runs streamstat with args (which checkpoint to a directory
// and read stdin as input k), over a stream that pauses after data[:at];
// it waits until a checkpoint holds all inputs before k and data[:at], and
// interrupts the run.
func interruptIn(t *testing.T, data string, at int, k int64, dir string, args []string) {
	t.Helper()
	g := newGatedReader(data[:at], data[at:])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, ctx: ctx, chunk: 4096}, args...)
		done <- code
	}()
	<-g.reached
	waitFor(t, "a checkpoint of the first part", func() bool { return coveredIn(dir, k) == int64(at) })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("interrupted run: exit %d", code)
	}
	close(g.gate)
}

// TestResumeSameFileOtherName: a checkpoint of a file is resumed whatever
// the file is called now (relative, with ./, through a symlink, or moved),
// and the answer is the uninterrupted run's; a copy of the file, even of
// the same size and time, is another file.
func TestResumeSameFileOtherName(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(numbered(5000, 70)), 0o644); err != nil {
		t.Fatal(err)
	}
	data := numbered(20000, 300)
	half := middleLine(data)
	args := []string{"top", "-k", "5", "--format", "json", "-j", "2"}
	want, _, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(args, in, "-")...)
	if code != 0 {
		t.Fatalf("reference run: exit %d", code)
	}
	cwd, _ := os.Getwd()
	rel, err := filepath.Rel(cwd, in)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path string }{
		{"relative", rel},
		{"dot", filepath.Join(dir, ".", "sub", "..") + "/./in.txt"},
		{"symlink", link},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := filepath.Join(t.TempDir(), "ck")
			run := append(args, "--checkpoint", ck, "--checkpoint-interval", "2ms")
			interruptIn(t, data, half, 1, ck, append(run, in, "-"))
			got, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(run, "--resume", tc.path, "-")...)
			if code != 0 || got != want {
				t.Fatalf("resumed as %s: exit %d, stderr %q\n got %s\nwant %s", tc.path, code, stderr, got, want)
			}
		})
	}
	t.Run("copy", func(t *testing.T) {
		ck := filepath.Join(t.TempDir(), "ck")
		run := append(args, "--checkpoint", ck, "--checkpoint-interval", "2ms")
		interruptIn(t, data, half, 1, ck, append(run, in, "-"))
		cp := filepath.Join(dir, "copy.txt")
		b, _ := os.ReadFile(in)
		fi, _ := os.Stat(in)
		if err := os.WriteFile(cp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(cp, fi.ModTime(), fi.ModTime())
		_, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(run, "--resume", cp, "-")...)
		if code != 1 || !strings.Contains(stderr, "is of another job") || !strings.Contains(stderr, "inode") {
			t.Fatalf("resumed on a copy: exit %d, stderr %q; want 1 and a message naming the file's identity", code, stderr)
		}
	})
}

// TestResumeOtherStreamSameLength: a stream piped again to --resume that
// has the checkpoint's length but other bytes before its position is
// refused; one that differs only after the position is the same stream so
// far, and is counted.
func TestResumeOtherStreamSameLength(t *testing.T) {
	data := numbered(20000, 300)
	half := middleLine(data)
	args := []string{"top", "-k", "5", "--format", "json", "-j", "2"}
	ck := filepath.Join(t.TempDir(), "ck")
	run := append(args, "--checkpoint", ck, "--checkpoint-interval", "2ms")
	interruptIn(t, data, half, 0, ck, run)

	early := []byte(data)
	early[100] ^= 1 // same length, one byte changed before the position
	_, stderr, code := runIn(t, runOpts{stdin: bytes.NewReader(early), chunk: 4096}, append(run, "--resume")...)
	if code != 1 || !strings.Contains(stderr, "stdin: not the stream the checkpoint was taken of") {
		t.Errorf("other stream: exit %d, stderr %q; want 1 and a message that it is not the stream", code, stderr)
	}

	late := []byte(data)
	late[len(late)-3] ^= 1 // after the position
	want, _, _ := runIn(t, runOpts{stdin: bytes.NewReader(late), chunk: 4096}, args...)
	got, stderr, code := runIn(t, runOpts{stdin: bytes.NewReader(late), chunk: 4096}, append(run, "--resume")...)
	if code != 0 || got != want {
		t.Errorf("stream changed past the position: exit %d, stderr %q\n got %s\nwant %s", code, stderr, got, want)
	}
}

// TestResumeJobVersion1: a checkpoint whose job file streamstat wrote
// before inputs were described by identity (version 1, named inputs,
// worker states without a stream hash) still resumes; a job file of an
// unknown version is refused, saying so.
func TestResumeJobVersion1(t *testing.T) {
	data := numbered(20000, 300)
	half := middleLine(data)
	args := []string{"top", "-k", "5", "--format", "json", "-j", "2"}
	want, _, _ := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
	ck := filepath.Join(t.TempDir(), "ck")
	run := append(args, "--checkpoint", ck, "--checkpoint-interval", "2ms")
	interruptIn(t, data, half, 0, ck, run)
	jobPath := filepath.Join(ck, job.JobFile)
	desc, err := os.ReadFile(jobPath)
	if err != nil {
		t.Fatal(err)
	}
	// As version 1 wrote it.
	v1 := strings.Replace(string(desc), "streamstat checkpoint job, version 2", "streamstat checkpoint job, version 1", 1)
	v1 = strings.Replace(v1, "stream name ", "stream ", 1)
	v1 = strings.Replace(v1, "job workers 2\n", "", 1)
	if err := os.WriteFile(jobPath, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	got, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(run, "--resume")...)
	if code != 0 || got != want {
		t.Fatalf("resumed from a version 1 job: exit %d, stderr %q\n got %s\nwant %s", code, stderr, got, want)
	}

	future := strings.Replace(string(desc), "streamstat checkpoint job, version 2", "streamstat checkpoint job, version 9", 1)
	if err := os.WriteFile(jobPath, []byte(future), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(run, "--resume")...)
	if code != 1 || !strings.Contains(stderr, "written by another version of streamstat") {
		t.Errorf("job of version 9: exit %d, stderr %q; want 1 and a message naming the version", code, stderr)
	}
}
