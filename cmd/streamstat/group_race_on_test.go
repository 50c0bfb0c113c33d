//go:build race

package main

// groupRace is whether the race detector is on: it changes what
// allocations runtime.MemStats counts, so byte budgets are not checked.
const groupRace = true
