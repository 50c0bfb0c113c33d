package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeSnippets: every Go snippet in README's "Use the library" is
// made of lines of the example program the section last linked to, in
// order ("..." marks lines left out), so the README shows code that
// compiles and runs, and a change to either shows here.
func TestReadmeSnippets(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section, ok := strings.CutPrefix(string(readme)[strings.Index(string(readme), "## Use the library\n"):], "## Use the library\n")
	if !ok {
		t.Fatal(`README has no "## Use the library" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	link := regexp.MustCompile(`\]\((examples/\w+)\)`)
	block := regexp.MustCompile("(?s)```go\n(.*?)```")
	snippets := 0
	for _, m := range block.FindAllStringSubmatchIndex(section, -1) {
		links := link.FindAllStringSubmatch(section[:m[0]], -1)
		if len(links) == 0 {
			t.Fatalf("snippet at byte %d of the section follows no link to an example", m[0])
		}
		dir := links[len(links)-1][1]
		src, err := os.ReadFile(filepath.Join("..", "..", dir, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		snippets++
		if missing := notIn(section[m[2]:m[3]], string(src)); missing != "" {
			t.Errorf("README snippet %d (from %s): line %q is not in %s/main.go, in order", snippets, dir, missing, dir)
		}
	}
	if snippets < 7 {
		t.Errorf("%d Go snippets in the section, want the three levels' 7", snippets)
	}
}

// notIn returns the first line of snippet that is not, in order, a line
// of src (both trimmed), or "" if all are.
func notIn(snippet, src string) string {
	lines := strings.Split(src, "\n")
	at := 0
	for _, want := range strings.Split(snippet, "\n") {
		want = strings.TrimSpace(want)
		if want == "" || want == "..." {
			continue
		}
		for at < len(lines) && strings.TrimSpace(lines[at]) != want {
			at++
		}
		if at == len(lines) {
			return want
		}
		at++
	}
	return ""
}
