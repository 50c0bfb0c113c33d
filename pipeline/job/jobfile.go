package job

// The job description in a checkpoint directory (JobFile): what must be
// the same for a checkpoint to be resumed.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	fmt.Fprintf(&b, "%s\n%sjob workers %d\n", jobHeader, identity, pl.workers)
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
			same = same && x == y
		}
		if same {
			return true, ""
		}
	}
	return false, jobDiff(old, cur)
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
	c := &checkpointing{cfg: cc, store: store, settled: make(chan settled, 1)}
	path := filepath.Join(cc.Dir, JobFile)
	if cc.Resume {
		old, err := os.ReadFile(path)
		switch {
		case err == nil:
			if ok, diff := sameJob(string(old), job, describeJobV1(cc.Identity, pl)); !ok {
				return nil, fmt.Errorf("job: the checkpoint in %s is of another job: %s: %w", cc.Dir, diff, ErrOtherJob)
			}
			if _, err := store.Latest(); err == nil {
				c.restore = true
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
