//go:build !race

package pipeline

// shedRaceOn: the race detector is on, and allocates in sync primitives.
const shedRaceOn = false
