package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFreqKeyNamingFileWarns: freq reading stdin (piped, or /dev/null as
// under cron) with a KEY argument that names a file counts that KEY, as its
// syntax says, but warns that the file is not read, naming the command that
// reads it: `freq GET /var/log/dpkg.log` must not quietly print 0 for it.
func TestFreqKeyNamingFileWarns(t *testing.T) {
	log := filepath.Join(t.TempDir(), "dpkg.log")
	if err := os.WriteFile(log, []byte("GET\nGET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("GET\n")}, "freq", "GET", log)
	if code != 0 || !strings.Contains(out, "GET") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := "streamstat: warning: freq: " + log + " is counted as a KEY, though it names a file, which is not read: to read it, streamstat freq --key GET " + log
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr %q; want %q", errOut, want)
	}
	// Keys that name no file, or inputs given as such: no warning.
	for _, args := range [][]string{{"freq", "GET", "POST"}, {"freq", "--key", "GET", log}, {"freq", "-i", log, "GET"}} {
		if _, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("GET\n")}, args...); code != 0 || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", args, code, errOut)
		}
	}
}
