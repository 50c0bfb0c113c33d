// Package cputime reads the CPU time (user and system) the process has
// used, so benchmarks on a shared machine can report work done beside wall
// time.
package cputime

import "time"

// Process returns the user and system CPU time of the whole process so far,
// or 0 where it cannot be read (see Available). It is safe for concurrent use.
func Process() time.Duration { return process() }
