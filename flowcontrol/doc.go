// Package flowcontrol implements credit-based channels that carry batches
// of records in reused buffers, with back-pressure, bounded memory and the
// accounting a load shedder needs.
//
// # Credits
//
// A Gate is the receiving end of N inputs; each input's sending end is a
// Sender. Every buffer that will ever be in flight is allocated when the
// Gate is made, and one credit is one empty buffer handed from the receiver
// to a sender. A buffer goes round a loop:
//
//	credit ──Acquire──▶ sender fills it ──Send──▶ backlog ──Recv──▶ receiver ──Release──▶ credit
//
// so in-flight memory is bounded by the buffers, always: a sender with no
// credit cannot send, it waits (Send, Acquire: back-pressure) or is told so
// at once (TrySend, TryAcquire) and may shed instead. Send is an exchange:
// it hands over the filled buffer and takes the next empty one, which the
// following Acquire returns without waiting. The sender therefore always
// holds the buffer it fills, and a failed TrySend leaves it the batch to
// shed or resend. SendLast sends a final batch and closes, with no
// exchange and no wait.
//
// Each input owns Config.Exclusive buffers (exclusive credits, at least 2:
// one being filled, one in flight), which no other input can take, so no
// input can be starved of credit by another. The gate also has a pool of
// Config.Floating buffers (floating credits) shared by its inputs, which
// absorbs skew: an input that has used up its exclusive credits takes one
// from the pool. When the pool is empty, each buffer returned to it goes to
// the waiting input with the largest backlog, the input its producer is
// pushing hardest (ties round-robin); a floating buffer parked unused at a
// quiet input is reclaimed for a busy one. A floating buffer goes back to
// the pool when its input drains (no backlog), closes, or another input is
// waiting for credit; a paused input gets no floating buffers. The defaults,
// 2 exclusive and 8 floating, are Flink's.
//
// The receiver takes batches with Recv, which serves the inputs that have a
// backlog round-robin, one batch each, so a busy input cannot starve a
// quiet one, and returns each buffer with Release once done with it. Pause
// and Resume hold an input back, as barrier alignment needs. Close (or
// SendLast) on a Sender ends that input; Recv returns ErrClosed, like io.EOF, once every
// input has ended and its batches have been received.
//
// # Metrics
//
// Sender.Stats and Gate.Stats return snapshots: credits available,
// backlog, batches and records sent and received, time senders spent
// back-pressured and time the receiver spent idle waiting for data (busy
// time is the rest). Time comes from an injectable Clock, so tests check
// the accounting exactly; on the data path the clock is read only when
// someone waits.
//
// # Batch size
//
// A Debloater adapts the batch size as Flink's buffer debloating does: it
// suggests the size at which the batches in flight take a target time to
// drain at the measured throughput, so that a back-pressured channel holds
// less stale data and barriers pass sooner.
//
// # Concurrency
//
// Each Sender is used by one goroutine and the Gate's receiving methods
// (Recv, TryRecv, Release, Pause, Resume) by one goroutine; Stats and
// Gate.Close may be called from anywhere. Waits honour context
// cancellation and leave nothing behind: the package starts no goroutines.
// Send, Recv and Release allocate nothing.
package flowcontrol
