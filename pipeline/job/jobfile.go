package job

// The job description in a checkpoint directory (JobFile): what must be
// the same for a checkpoint to be resumed.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamstat/streamstat/internal/atomicfile"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// describeJob returns the job description of a job over pl: what must be
// the same for a checkpoint to be resumed. An input is described by what
// it is, not by how it was named: a file by its size, modification time,
// device and inode (huge.txt, ./huge.txt and its absolute path are one
// file; a copy is another), a stream by nothing (its bytes are checked as
// they are skipped, see worker.resumeCheck). The name follows, for
// messages only: sameJob ignores it.
func describeJob(identity string, pl *plan) (string, error) {
	var b strings.Builder
	// The caller's identity may name the workers too (the command's
	// does); the job's own line makes sure positions are read by as many
	// workers as recorded them.
	fmt.Fprintf(&b, "%s\n%s%s%d\n", jobHeader, identity, jobWorkers, pl.workers)
	for _, in := range pl.inputs {
		if in.stream != nil {
			fmt.Fprintf(&b, "stream%s%q\n", jobName, in.name)
			continue
		}
		if in.size > maxInput {
			return "", fmt.Errorf("%s: %d bytes: too large to checkpoint (at most %d): %w", in.name, in.size, int64(maxInput), pipeline.ErrInvalidGraph)
		}
		fmt.Fprintf(&b, "file size %d modified %s%s%s%q\n", in.size,
			in.info.ModTime().UTC().Format(time.RFC3339Nano), fileIdentity(in.info), jobName, in.name)
	}
	if len(pl.inputs) >= 1<<(63-posBits) {
		return "", fmt.Errorf("%d inputs: too many to checkpoint", len(pl.inputs))
	}
	return b.String(), nil
}

// describeJobV1 is the job description streamstat wrote before inputs were
// described by identity: a checkpoint made then is resumed when its
// description is this, byte for byte, as it was then.
func describeJobV1(identity string, pl *plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s", jobHeaderV1, identity)
	for _, in := range pl.inputs {
		if in.stream != nil {
			fmt.Fprintf(&b, "stream %q\n", in.name)
		} else {
			fmt.Fprintf(&b, "file %q %d\n", in.name, in.size)
		}
	}
	return b.String()
}

// jobName separates an input's description from its name.
const jobName = " name "

// sameJob reports whether the job description old (read from a
// checkpoint) is cur's, and if not, says where they differ.
func sameJob(old, cur, curV1 string) (bool, string) {
	if strings.HasPrefix(old, jobHeaderV1+"\n") {
		return old == curV1, jobDiff(old, curV1)
	}
	if !strings.HasPrefix(old, jobHeader+"\n") {
		first, _, _ := strings.Cut(old, "\n")
		return false, fmt.Sprintf("it was written by another version of streamstat (%q)", first)
	}
	a, b := strings.Split(old, "\n"), strings.Split(cur, "\n")
	if len(a) == len(b) {
		same := true
		for i := range a {
			x, _, _ := strings.Cut(a[i], jobName)
			y, _, _ := strings.Cut(b[i], jobName)
			// Another number of workers resumes if the operators'
			// states merge (the pipeline checks, see New).
			same = same && (x == y || strings.HasPrefix(x, jobWorkers) && strings.HasPrefix(y, jobWorkers))
		}
		if same {
			return true, ""
		}
	}
	return false, jobDiff(old, cur)
}

// jobWorkers starts the job description's line of the number of workers
// the job started with (a resumed run may have another, see
// CheckpointWorkers).
const jobWorkers = "job workers "

// workersIn returns the number of workers that took checkpoint m: its
// sources with state.
func workersIn(m checkpoint.Manifest) int {
	n := 0
	for _, p := range m.Parts {
		if rest, ok := strings.CutPrefix(p.Name, "srcstate-"); ok {
			if _, err := strconv.Atoi(rest); err == nil {
				n++
			}
		}
	}
	return n
}

// CheckpointWorkers returns the number of workers that took the newest
// complete checkpoint in dir, or 0 if there is none (or it was written by
// an earlier version): a resumed job takes it by default, so that a
// checkpoint moved to a machine with another number of CPUs goes on as it
// was.
func CheckpointWorkers(dir string) int {
	store, err := checkpoint.NewDirStore(dir, 0, func(string, ...any) {})
	if err != nil {
		return 0
	}
	m, err := store.Latest()
	if err != nil {
		return 0
	}
	return workersIn(m)
}

// openCheckpoints prepares the checkpoint directory for a job over pl: to
// resume, it checks that a checkpoint there is of the same job; otherwise
// (or when the directory holds no checkpoint) it clears its checkpoints
// and writes the job description.
func openCheckpoints(cc *CheckpointConfig, pl *plan) (*checkpointing, error) {
	job, err := describeJob(cc.Identity, pl)
	if err != nil {
		return nil, err
	}
	logf := cc.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	// Latest runs here and again in Restore: say each skip once.
	var logMu sync.Mutex
	logged := map[string]bool{}
	store, err := checkpoint.NewDirStore(cc.Dir, 0, func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		logMu.Lock()
		defer logMu.Unlock()
		if !logged[msg] {
			logged[msg] = true
			logf("%s", msg)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("job: checkpoint directory: %w", err)
	}
	c := &checkpointing{cfg: cc, store: store, logf: logf, verify: &pl.verify, settled: make(chan settled, 1)}
	path := filepath.Join(cc.Dir, JobFile)
	if cc.Resume {
		old, err := os.ReadFile(path)
		switch {
		case err == nil:
			if ok, diff := sameJob(string(old), job, describeJobV1(cc.Identity, pl)); !ok {
				return nil, fmt.Errorf("job: the checkpoint in %s is of another job: %s: %w", cc.Dir, diff, ErrOtherJob)
			}
			if m, err := store.Latest(); err == nil {
				if err := checkOldFormat(cc.Dir, m); err != nil {
					return nil, err
				}
				c.restore, c.oldWorkers = true, workersIn(m)
				return c, nil
			} else if !errors.Is(err, checkpoint.ErrNoCheckpoint) {
				return nil, fmt.Errorf("job: resume: %w", err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("job: resume: %w", err)
		}
		logf("no checkpoint in %s to resume: starting from the beginning", cc.Dir)
	}
	if err := store.Clear(); err != nil {
		return nil, fmt.Errorf("job: checkpoint directory: %w", err)
	}
	if err := writeFileAtomic(path, []byte(job)); err != nil {
		return nil, fmt.Errorf("job: checkpoint directory: %w", err)
	}
	return c, nil
}

// writeFileAtomic writes path through a synced temporary file renamed
// over it, and syncs the directory.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(f, path, data); err != nil {
		return err
	}
	_ = atomicfile.SyncDir(filepath.Dir(path)) // best effort: its error is not reported
	return nil
}

// jobDiff names the first line where two job descriptions differ (input
// names aside, in version 2).
func jobDiff(old, cur string) string {
	a, b := strings.Split(old, "\n"), strings.Split(cur, "\n")
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x0, _, _ := strings.Cut(x, jobName); x0 != y && !strings.HasPrefix(y, x0+jobName) {
			return fmt.Sprintf("it has %q where this run has %q", x, y)
		}
	}
	return "it differs"
}

// checkOldFormat refuses a checkpoint written before workers had state of
// their own (it is in their operators' parts, which this version reads as
// the operators' state alone): positions, but no worker state.
func checkOldFormat(dir string, m checkpoint.Manifest) error {
	_, pos := m.Part("src-0")
	_, state := m.Part("srcstate-0")
	if pos && !state {
		return fmt.Errorf("job: the checkpoint in %s was written by an earlier version of streamstat (its workers' counters are in their operators' state): resume it with that version, or start over: %w", dir, ErrOtherJob)
	}
	return nil
}
