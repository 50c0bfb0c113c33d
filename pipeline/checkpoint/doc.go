// Package checkpoint stores pipeline checkpoints: each checkpoint's parts
// (operator states, source positions) plus a manifest naming them, published
// atomically, so a reader sees a checkpoint whole or not at all.
//
// # Layout of a DirStore
//
//	DIR/chk-00000000000000000007/part-<name>   one file per part
//	DIR/chk-00000000000000000007/MANIFEST      published last, atomically
//
// A checkpoint is complete only when its MANIFEST exists: parts are written
// and fsynced first; then the manifest goes to a temporary file, is fsynced
// and renamed into place, and the checkpoint directory and DIR are fsynced.
// The manifest records every part's size and CRC-32C, so a part truncated or
// altered later is detected when the checkpoint is read, and Latest falls
// back to the newest checkpoint that is still whole, logging what it
// skipped and why.
//
// A failed write (a full disk, a permission error) fails that checkpoint
// only: its directory is removed as far as possible, and earlier
// checkpoints are never touched until a newer one is complete.
//
// After each publication the store keeps the newest Keep checkpoints whose
// parts all verify (size and checksum), and removes older ones, damaged
// ones, and incomplete leftovers above the one published (a crashed
// earlier run's): a damaged newer checkpoint never pushes the last valid
// fallback out. Verifying reads every part of the older kept checkpoints,
// so pruning costs about Keep-1 checkpoints' worth of reads per
// publication, in the background writer, off the data path.
//
// Checkpoints outlive the job: a finished job's checkpoints stay, and a
// job that restores from the same directory goes on from the newest of
// them. Call Clear to start over.
//
// # Concurrency
//
// A DirStore may be used from several goroutines; writing one checkpoint's
// parts from several goroutines at once is allowed. Two processes must not
// write the same directory.
package checkpoint
