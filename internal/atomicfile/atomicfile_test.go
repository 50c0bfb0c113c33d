package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.CreateTemp(dir, "state.tmp*")
	if err != nil {
		t.Fatal(err)
	}
	if err := Replace(tmp, path, []byte("new")); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "new" {
		t.Errorf("path holds %q, %v; want \"new\"", got, err)
	}
	if _, err := os.Stat(tmp.Name()); !os.IsNotExist(err) {
		t.Errorf("the temporary file is still there: %v", err)
	}
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
}

func TestReplaceFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.CreateTemp(dir, "target.tmp*")
	if err != nil {
		t.Fatal(err)
	}
	// A file cannot be renamed over a non-empty directory.
	if err := Replace(tmp, target, []byte("data")); err == nil {
		t.Fatal("Replace over a non-empty directory: no error")
	}
	if _, err := os.Stat(tmp.Name()); !os.IsNotExist(err) {
		t.Errorf("the temporary file was left behind after the failure: %v", err)
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		t.Errorf("the directory was not left as it was: %v", err)
	}
}

func TestSyncDirMissing(t *testing.T) {
	if err := SyncDir(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("SyncDir of a missing directory: no error")
	}
}
