package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSaveMode: --save creates its file with mode 0666 less the umask, as
// shell redirection does (it was 0600).
func TestSaveMode(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "s.state")
	if _, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a\n")}, "distinct", "--save", path); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o640 {
		t.Errorf("mode %v under umask 027; want -rw-r-----", got)
	}
}

// TestSaveSyncsDirectory: the state file is synced into its directory
// after the rename (a rename is durable only once its directory is).
func TestSaveSyncsDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.state")
	var synced []string
	old := syncDir
	syncDir = func(d string) error {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("directory synced before the rename: %v", err)
		}
		synced = append(synced, d)
		return old(d)
	}
	defer func() { syncDir = old }()
	for _, args := range [][]string{{"distinct", "--save", path}, {"merge", path, "--save", path}} {
		synced = nil
		if _, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a\n")}, args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		if len(synced) != 1 || synced[0] != dir {
			t.Errorf("%q: synced %q; want %q once", args, synced, dir)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files left in the directory; want the state file alone", len(ents))
	}
}

// failReader fails the test when read: the run must stop before its input.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("stdin was read though --save cannot be written")
	return 0, fs.ErrClosed
}

// TestSaveBadPath: a --save that cannot be written is reported before any
// input is read, with exit 1 and a message naming the problem.
func TestSaveBadPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	state := saved(t, dir, "ok", "a\n", "distinct")
	cases := []struct {
		name, path, msg string
	}{
		{"missing directory", filepath.Join(dir, "nope", "s.state"), "does not exist"},
		{"directory under a file", filepath.Join(file, "s.state"), "not a directory"},
		{"a directory", dir, "is a directory"},
	}
	for _, c := range cases {
		for _, args := range [][]string{{"distinct"}, {"top", "-k", "2"}, {"merge", state}} {
			t.Run(c.name+"/"+args[0], func(t *testing.T) {
				args := append(append([]string(nil), args...), "--save", c.path)
				out, errOut, code := runIn(t, runOpts{stdin: failReader{t}}, args...)
				if code != 1 || out != "" || !strings.HasPrefix(errOut, "streamstat: --save "+c.path+": ") || !strings.Contains(errOut, c.msg) {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, c.msg)
				}
			})
		}
	}
	if os.Getuid() == 0 {
		return // root writes anywhere
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	_, errOut, code := runIn(t, runOpts{stdin: failReader{t}}, "distinct", "--save", filepath.Join(ro, "s"))
	if code != 1 || !strings.Contains(errOut, "cannot create a file in") {
		t.Errorf("read-only directory: exit %d, stderr %q", code, errOut)
	}
}
