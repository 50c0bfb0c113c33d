package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary: signals and a closed stdout go through
// the process, not through run's arguments.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(hwmEnv); ok {
		// A child of runHWM: run streamstat in this fresh process and
		// report its peak memory.
		os.Exit(runReportingHWM(strings.Split(args, "\x1f")))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func streamstatBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "streamstat-test")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "streamstat")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// startLive starts the binary with args reading a live stream: stdin gets
// enough lines for whole batches and stays open, as a live stream's
// would, until the test ends. It returns the command, a scanner of its
// stdout and its stderr.
func startLive(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(streamstatBin(t), args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	go io.WriteString(stdin, lines("k", 20000))
	return cmd, bufio.NewScanner(stdout), stderr
}

// TestSignalFinalAnswer: on SIGINT or SIGTERM, streamstat stops reading,
// writes the answer for what it read, and exits 0.
func TestSignalFinalAnswer(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, sc, stderr := startLive(t, "top", "-k", "3", "--format", "json", "--interval", "50ms")
			var last topJSON
			for sc.Scan() { // snapshots, until one has counted records
				if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
					t.Fatalf("%v: %q", err, sc.Text())
				}
				if last.Records > 0 {
					break
				}
			}
			cmd.Process.Signal(sig)
			var final []byte
			for sc.Scan() {
				final = bytes.Clone(sc.Bytes())
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit: %v; stderr %q", err, stderr.String())
			}
			var j topJSON
			if err := json.Unmarshal(final, &j); err != nil || j.Records < last.Records || len(j.Items) != 3 {
				t.Errorf("final answer %q (%v): want one at least as far as the last snapshot", final, err)
			}
		})
	}
}

// TestClosedPipe: when the reader of stdout goes away (| head), the
// program ends quietly with exit 0, not killed by SIGPIPE and without a
// message.
func TestClosedPipe(t *testing.T) {
	input := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(input, []byte(lines("line", 300000)+lines("other", 300000)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"dedup", input},                  // a filter: fails mid-stream
		{"sample", "-k", "100000", input}, // one big answer
		{"distinct", input},               // a small answer, stdout closed before it
		{"top", "--interval", "1ms", input},
	} {
		t.Run(args[0], func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(streamstatBin(t), args...)
			cmd.Stdout = w
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if args[0] != "distinct" {
				// Read a little, as head does, then go away.
				buf := make([]byte, 100)
				io.ReadFull(r, buf)
			}
			r.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("still running a minute after its stdout closed")
			}
			if err != nil || stderr.Len() != 0 {
				t.Errorf("%v: %v, stderr %q; want exit 0 and nothing", args, err, stderr.String())
			}
		})
	}
}

// TestExitCodes checks the real binary's codes and stderr prefix.
func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"help"}, 0},
		{[]string{"distinct", "/nonexistent/file"}, 1},
		{[]string{"distinct", "--nope"}, 2},
		{[]string{}, 2},
	}
	for _, c := range cases {
		cmd := exec.Command(streamstatBin(t), c.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != c.code || (code == 1 && !strings.HasPrefix(stderr.String(), "streamstat: ")) {
			t.Errorf("%v: exit %d (want %d), stderr %q", c.args, code, c.code, stderr.String())
		}
	}
}

// TestSignalFIFONoWriter: a run waiting for a FIFO's writer stops at the
// first SIGINT or SIGTERM, by itself (not killed), with an answer.
func TestSignalFIFONoWriter(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skip(err)
			}
			cmd := exec.Command(streamstatBin(t), "distinct", "--format", "json", fifo)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // blocked opening the FIFO
			cmd.Process.Signal(sig)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 10 s after %v", sig)
			}
			var j struct{ Records *uint64 }
			if !cmd.ProcessState.Exited() || json.Unmarshal(stdout.Bytes(), &j) != nil || j.Records == nil || *j.Records != 0 {
				t.Errorf("%v; stdout %q, stderr %q: want an exit by itself with the answer for nothing read", cmd.ProcessState, stdout.String(), stderr.String())
			}
		})
	}
}
