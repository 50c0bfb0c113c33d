// Package pipeline runs sketch operators over streams of records in a graph
// of goroutines wired with credit-based channels, so memory stays bounded and
// back-pressure is visible.
package pipeline
