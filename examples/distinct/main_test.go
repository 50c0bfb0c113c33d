package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty input", "", "lines     0\ndistinct  0  (95% bounds 0 .. 0)\nexact     0  (inside bounds: true)\n"},
		{"CRLF and last line without newline", "a\r\nb\na\nb", "lines     4\ndistinct  2  (95% bounds 2 .. 3)\nexact     2  (inside bounds: true)\n"},
		{"long line", strings.Repeat("x", 1<<20) + "\ny\n", "lines     2\ndistinct  2  (95% bounds 2 .. 3)\nexact     2  (inside bounds: true)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(nil, strings.NewReader(tc.in), &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
	if err := run([]string{"/nonexistent/file"}, nil, new(bytes.Buffer)); err == nil {
		t.Error("no error for a missing file")
	}
}
