package shedding

import "github.com/streamstat/streamstat/sketch"

// Errors. Decoders and Merge wrap one of these with %w; match with
// errors.Is. They are the same values as package sketch's, so errors.Is
// works across packages.
var (
	// ErrTruncated: the input ends before the encoding does.
	ErrTruncated = sketch.ErrTruncated
	// ErrNotEncoding: the input is not a streamstat encoding at all.
	ErrNotEncoding = sketch.ErrNotEncoding
	// ErrVersion: the encoding was written by a newer format version.
	ErrVersion = sketch.ErrVersion
	// ErrKind: the encoding holds another kind.
	ErrKind = sketch.ErrKind
	// ErrHash: the encoding used a hash function or seed this build lacks.
	ErrHash = sketch.ErrHash
	// ErrChecksum: the bytes were altered after they were written.
	ErrChecksum = sketch.ErrChecksum
	// ErrCorrupt: the checksum holds but the content is inconsistent.
	ErrCorrupt = sketch.ErrCorrupt

	// ErrIncompatible: a shed state was restored into a Shedder of another
	// policy, salt or window, or a merge was asked of incompatible
	// summaries.
	ErrIncompatible = sketch.ErrIncompatible
	// ErrInvalidParameter: a constructor was given a parameter out of range.
	ErrInvalidParameter = sketch.ErrInvalidParameter
)
