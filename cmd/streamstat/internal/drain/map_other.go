//go:build !linux

package main

import (
	"errors"
	"os"
)

// touchMapped is Linux's: elsewhere the line source reads files with
// read(2).
func touchMapped(*os.File, int64) (uint64, error) {
	return 0, errors.New("drain: mapping a file is measured on Linux only")
}
