// Package observe serves a running pipeline over HTTP: a live page, a
// stream of server-sent events, and the same state as JSON.
//
// The name says what it does to a pipeline: it watches, read-only, and
// never sits on the data path. A Snapshot is read from the counters the
// pipeline keeps anyway (pipeline.Metrics, CheckpointStats, Branches) when
// someone asks; any Runtime that keeps those (pipeline/kafka's Worker
// does) is drawn the same way; the Prometheus adapter (package promexport) reads the same
// Snapshot, so the page and a scrape never disagree.
//
// # Pieces
//
//   - Take reads one Snapshot of a pipeline, with the caller's answer (the
//     object its JSON output prints) in Snapshot.Answer.
//   - An Observer takes them in a series: rates and busy shares per
//     interval, the recent checkpoints, when the last record came, and a
//     History ring of the last ten minutes for a page opened late.
//   - A Server ticks an Observer and serves / (the page, embedded with
//     go:embed: our own small script draws the charts on canvas; nothing is
//     fetched from elsewhere), /events (server-sent events), /api/snapshot,
//     /api/history, /healthz and, if given a handler, /metrics.
//
// # Safety
//
// Every endpoint is read-only (GET and HEAD). The server binds only where
// told; bound to a loopback address it refuses requests whose Host is not a
// loopback name, so a web page elsewhere cannot reach it through DNS
// rebinding. Event streams have per-write deadlines (not a WriteTimeout,
// which would cut them), their number is bounded, and a client too slow to
// take its events is dropped: the tick never waits for one, and the
// pipeline never waits for the tick.
package observe
