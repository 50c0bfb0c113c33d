package sketch

import (
	"errors"

	"github.com/streamstat/streamstat/internal/envelope"
)

// Errors. Decoders and Merge wrap one of these with %w; match with errors.Is.
// The encoding errors are shared with package sampling.
var (
	// ErrTruncated: the input ends before the encoding does.
	ErrTruncated = envelope.ErrTruncated
	// ErrNotEncoding: the input is not a streamstat encoding at all.
	ErrNotEncoding = envelope.ErrNotEncoding
	// ErrVersion: the encoding was written by a newer format version.
	ErrVersion = envelope.ErrVersion
	// ErrKind: the encoding holds another kind of sketch.
	ErrKind = envelope.ErrKind
	// ErrHash: the encoding used a hash function or seed this build lacks.
	ErrHash = envelope.ErrHash
	// ErrChecksum: the bytes were altered after they were written.
	ErrChecksum = envelope.ErrChecksum
	// ErrCorrupt: the checksum holds but the content is inconsistent.
	ErrCorrupt = envelope.ErrCorrupt

	// ErrIncompatible: Merge was given a sketch of another shape (width,
	// depth, capacity, size, ...) that cannot be combined with the receiver.
	ErrIncompatible = errors.New("sketch: incompatible sketches")
	// ErrInvalidParameter: a constructor was given a parameter out of range.
	ErrInvalidParameter = errors.New("sketch: invalid parameter")
)
