//go:build race

package pipeline_test

// raceOn reports that the race detector is on: it slows a source down
// several times, so tests of throughput against a rate skip.
const raceOn = true
