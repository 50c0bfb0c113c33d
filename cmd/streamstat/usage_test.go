package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestFlagMisuse: flags given twice, flags a subcommand does not take and
// bad values are usage errors (exit 2) whose message spells long flags
// with two dashes and says what to do.
func TestFlagMisuse(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"top", "-f", "1", "-f", "7"}, `-f "7": given twice`},
		{[]string{"distinct", "--field", "1", "-f", "2"}, "given twice"},
		{[]string{"stats", "-f", "1", "-f", "2"}, "given twice"},
		{[]string{"dedup", "-f", "1", "--field=1"}, "given twice"},
		{[]string{"dedup", "--interval", "1s"}, "--interval: dedup does not take this flag (distinct, top, freq, sample, stats do)"},
		{[]string{"dedup", "-j", "2"}, "-j: dedup does not take this flag"},
		{[]string{"dedup", "--checkpoint", "d"}, "--checkpoint: dedup does not take"},
		{[]string{"dedup", "--shed"}, "--shed: dedup does not take"},
		{[]string{"sample", "-j", "2"}, "-j: sample does not take this flag"},
		{[]string{"sample", "--shed"}, "sample does not shed load"},
		{[]string{"distinct", "--precision", "x"}, `--precision "x": want a whole number`},
		{[]string{"distinct", "--interval", "5"}, `--interval "5": want a duration`},
		{[]string{"distinct", "--precision"}, "--precision needs a value"},
		{[]string{"distinct", "--nope"}, "unknown flag --nope"},
		{[]string{"top", "-k", "0"}, "-k 0: must be in [1,"},
		{[]string{"merge", "-k", "0", "x.state"}, "-k 0: must be in [1,"},
		{[]string{"merge", "-k", "-3", "x.state"}, "-k -3: must be in [1,"},
	}
	for _, c := range cases {
		out, errOut, code := runIn(t, runOpts{}, c.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "streamstat: "+c.args[0]+": ") || !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.msg)
		}
		if strings.Contains(errOut, " -precision") || strings.Contains(errOut, " -interval") {
			t.Errorf("%q: a long flag with one dash: %q", c.args, errOut)
		}
	}
}

// TestStdinTerminal: a run that would read a terminal is a usage error
// with a hint, not a silent wait; freq given a file as a KEY says so.
func TestStdinTerminal(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "dpkg.log")
	os.WriteFile(log, []byte("GET /\nPOST /\nGET /x\n"), 0o644)
	for _, args := range [][]string{
		{"distinct"}, {"top"}, {"sample"}, {"stats", "-f", "1"}, {"dedup"}, {"distinct", log, "-"},
		{"freq", "GET"}, {"freq", "GET", log}, {"freq", "--key", "GET"},
	} {
		out, errOut, code := runIn(t, runOpts{stdinTTY: true}, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "stdin is a terminal") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and a hint", args, code, out, errOut)
		}
		if len(args) == 3 && args[0] == "freq" && args[2] == log && !strings.Contains(errOut, "streamstat freq --key GET "+log) {
			t.Errorf("%q: stderr %q does not say how to read the file", args, errOut)
		}
	}
	// With a file, a terminal stdin does not matter.
	for _, args := range [][]string{{"distinct", log}, {"freq", "--key", "GET", log}, {"freq", "-i", log, "GET"}} {
		if _, errOut, code := runIn(t, runOpts{stdinTTY: true}, args...); code != 0 {
			t.Errorf("%q: exit %d, %s", args, code, errOut)
		}
	}
}

// TestFreqKeysAndFiles: with --key or --keys-from, freq's arguments are
// input files; without, they are keys (and -i names the inputs).
func TestFreqKeysAndFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	os.WriteFile(a, []byte("GET /\nPOST /\nGET /x\n"), 0o644)
	os.WriteFile(b, []byte("GET /y\nPUT /\n"), 0o644)
	keys := filepath.Join(dir, "keys")
	os.WriteFile(keys, []byte("PUT\r\nGET\n"), 0o644)
	const want = "key,count,lower,upper,guaranteed,records,skipped,shed,total,confidence,width,depth,complete\n"
	for _, c := range []struct {
		args  []string
		stdin string
		rows  string
	}{
		{[]string{"--key", "GET", "--key", "PUT", a, b}, "", "GET,3,5\nPUT,1,5\n"},
		{[]string{"--keys-from", keys, a, b}, "", "PUT,1,5\nGET,3,5\n"},
		{[]string{"--key", "GET", "--keys-from", keys, a}, "", "GET,2,3\nPUT,0,3\n"},
		{[]string{"--key", "GET", "-i", a, b}, "", "GET,3,5\n"},
		{[]string{"--key", "GET"}, "GET\n", "GET,1,1\n"},
		{[]string{"GET", "PUT", "-i", b}, "", "GET,1,2\nPUT,1,2\n"},
		{[]string{"GET", "PUT"}, "PUT\n", "GET,0,1\nPUT,1,1\n"},
	} {
		args := append([]string{"freq", "-f", "1", "--format", "csv"}, c.args...)
		out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(c.stdin)}, args...)
		var rows strings.Builder
		for _, l := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(out, want), "\n"), "\n") {
			f := strings.Split(l, ",")
			rows.WriteString(f[0] + "," + f[1] + "," + f[5] + "\n") // key, count, records
		}
		if code != 0 || !strings.HasPrefix(out, want) || rows.String() != c.rows {
			t.Errorf("%q: exit %d, stderr %q, got\n%s\nwant rows\n%s", args, code, errOut, out, c.rows)
		}
	}
	if _, errOut, code := runIn(t, runOpts{}, "freq", "--keys-from", filepath.Join(dir, "nope"), a); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing --keys-from file: exit %d, %q; want exit 1", code, errOut)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, errOut, code := runIn(t, runOpts{}, "freq", "--keys-from", empty, a); code != 2 || !strings.Contains(errOut, "holds no key") {
		t.Errorf("empty --keys-from file: exit %d, %q; want exit 2", code, errOut)
	}
}

// TestVersion: --version and the version subcommand print the version
// from the build info.
func TestVersion(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info")
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, errOut, code := runIn(t, runOpts{}, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "streamstat ") || !strings.Contains(out, bi.GoVersion) || !strings.HasSuffix(out, "\n") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
