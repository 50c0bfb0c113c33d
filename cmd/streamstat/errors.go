package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// cleanPathError turns "open x: no such file or directory" into the
// message users know from other tools.
func cleanPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// trimPipeline drops the "pipeline: " prefixes the library puts on its
// errors: users of the command do not know that package.
func trimPipeline(err error) error {
	s := strings.ReplaceAll(err.Error(), "pipeline: line source: ", "")
	s = strings.ReplaceAll(s, "pipeline: ", "")
	return &wrapped{msg: s, err: err}
}

// wrapped is an error with a cleaner message that still unwraps to the
// original (so errors.Is finds EPIPE, context.Canceled, ...).
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }
