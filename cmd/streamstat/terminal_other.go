//go:build !linux

package main

import "os"

// ttyCheck reports whether character device f is a terminal. Elsewhere
// than on Linux every character device is taken for one.
func ttyCheck(*os.File) bool { return true }
