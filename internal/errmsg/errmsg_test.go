package errmsg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
)

func TestMessages(t *testing.T) {
	pathErr := &os.PathError{Op: "open", Path: "x.log", Err: fs.ErrNotExist}
	for _, tc := range []struct {
		name string
		got  error
		want string
		is   error
	}{
		{"CleanPath words a path error as other tools do", CleanPath(fmt.Errorf("run: %w", pathErr)), "open x.log: file does not exist", fs.ErrNotExist},
		{"CleanPath leaves other errors alone", CleanPath(context.Canceled), "context canceled", context.Canceled},
		{"UnwrapPath gives the cause of a path error", UnwrapPath(pathErr), "file does not exist", fs.ErrNotExist},
		{"UnwrapPath leaves other errors alone", UnwrapPath(context.Canceled), "context canceled", context.Canceled},
		{"TrimPipeline drops both prefixes", TrimPipeline(fmt.Errorf("a.log: pipeline: line source: %w", context.Canceled)), "a.log: context canceled", context.Canceled},
		{"TrimPipeline drops a bare prefix", TrimPipeline(fmt.Errorf("pipeline: bad spec: %w", fs.ErrInvalid)), "bad spec: invalid argument", fs.ErrInvalid},
		{"Wrap keeps the cause", Wrap("short", fmt.Errorf("long: %w", context.Canceled)), "short", context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got.Error() != tc.want {
				t.Errorf("message %q, want %q", tc.got.Error(), tc.want)
			}
			if !errors.Is(tc.got, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", tc.got, tc.is)
			}
		})
	}
}
