// Package errmsg words the errors the streamstat command and the
// pipeline/job runner show to users: paths as other tools print them and
// without the library's "pipeline: " prefixes, while errors.Is and
// errors.As still find the original error.
//
// The functions keep no state and are safe for concurrent use.
package errmsg

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// CleanPath turns "open x: no such file or directory" into the
// message users know from other tools.
func CleanPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}

// UnwrapPath returns the cause inside an *os.PathError found in err (for a
// message that names the path itself), or err as it is.
func UnwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// TrimPipeline drops the "pipeline: " prefixes the library puts on its
// errors: users of the command do not know that package.
func TrimPipeline(err error) error {
	s := strings.ReplaceAll(err.Error(), "pipeline: line source: ", "")
	s = strings.ReplaceAll(s, "pipeline: ", "")
	return Wrap(s, err)
}

// Wrap returns an error whose message is msg and which unwraps to err (so
// errors.Is finds EPIPE, context.Canceled, ...).
func Wrap(msg string, err error) error { return &wrapped{msg: msg, err: err} }

// wrapped is an error with a cleaner message that still unwraps to the
// original.
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }
