package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// State files (--save, read by merge) are:
//
//	"streamstat-state 2 CMD\n"   a text line: magic, format version, subcommand
//	uvarint records, skipped, bad values, shed
//	uvarint complete             1 when every input was read to its end
//	uvarint field                the key field (-f), 0 for whole lines
//	uvarint n, then n bytes      the delimiter (-d), as help spells it
//	uvarint n, then n uint64     the sources: the random id of each run
//	                             saved, strictly ascending (a merge holds
//	                             those of its parts)
//	uvarint n, then n bytes      version 3: the key's extractor (--json,
//	                             --csv, -f 1,3: structured.go), as text
//	uvarint parts                version 3: the parts of each key (more
//	                             than 1: composite keys, shown as tuples)
//	uvarint n, then n bytes      the subcommand's state (its sketches in
//	                             their own checksummed encodings)
//	uint32 CRC-32C (Castagnoli), little-endian, of every byte before it
//
// The text line lets `head -1 FILE` say what a file is; the checksum
// catches a truncated or altered file before anything is decoded. What a
// state records of how it was made lets merge refuse what cannot be
// merged: keys of another field or delimiter (which the sketches cannot
// tell), and a run already merged in (its counts would count twice).
// Version 1 files (without the complete flag, key and sources) are still
// read; merge then checks what it can (see runMerge). Version 3 is
// written only for keys of structured input, so plain runs write the
// version 2 they always wrote.

const (
	stateMagic   = "streamstat-state"
	stateVersion = 2
	// stateVersionKeys is the version of a state of structured keys
	// (the newest this build reads and writes).
	stateVersionKeys = 3
)

// Errors about state files. Decoding errors also wrap the sketch
// sentinels (ErrCorrupt, ErrChecksum, ...) where they apply.
var (
	errNotState   = errors.New("not a streamstat state file (write one with --save)")
	errStateVer   = errors.New("state file written by a newer streamstat")
	errStateCheck = errors.New("state file damaged: checksum mismatch")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stateHeader is what a state file says besides its counts and sketches.
type stateHeader struct {
	version  int // the format read (encodeState writes it back)
	cmd      string
	complete bool
	field    int
	delim    string
	sources  []uint64
	keyDesc  string // version 3: the key's extractor; "" for plain lines
	parts    int    // version 3: parts per key
}

// key describes the key a state was made with, for messages.
func (h *stateHeader) key() string {
	if h.keyDesc != "" {
		return h.keyDesc
	}
	if h.field == 0 {
		return "whole lines"
	}
	return fmt.Sprintf("-f %d -d %s", h.field, h.delim)
}

// newSource returns the id of a run saved: random, so that two runs are
// told apart without coordination (a collision of two of 2^64 ids is
// not a concern).
func newSource() uint64 { return rand.Uint64() }

// saveRun writes the state of run s (--save), complete or interrupted.
func saveRun(s *spec, c counts, a aggregate, complete bool) error {
	h := stateHeader{version: stateVersion, cmd: stateCmd(s), complete: complete,
		field: s.opts.field, delim: s.opts.delim.String(), sources: []uint64{newSource()}}
	if d := s.opts.st.desc; d != "" {
		h.version, h.keyDesc, h.parts = stateVersionKeys, d, s.opts.st.parts
	}
	return saveState(s.opts.save, h, c, a)
}

// saveState writes the state file atomically (writeFileAtomic).
func saveState(path string, h stateHeader, c counts, a aggregate) error {
	data, err := encodeState(h, c, a)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func encodeState(h stateHeader, c counts, a aggregate) ([]byte, error) {
	b := fmt.Appendf(nil, "%s %d %s\n", stateMagic, h.version, h.cmd)
	for _, v := range []uint64{c.Records, c.Skipped, c.Bad, c.Shed} {
		b = binary.AppendUvarint(b, v)
	}
	if h.version >= 2 {
		complete := uint64(0)
		if h.complete {
			complete = 1
		}
		b = binary.AppendUvarint(b, complete)
		b = binary.AppendUvarint(b, uint64(h.field))
		b = binary.AppendUvarint(b, uint64(len(h.delim)))
		b = append(b, h.delim...)
		b = binary.AppendUvarint(b, uint64(len(h.sources)))
		for _, id := range h.sources {
			b = binary.LittleEndian.AppendUint64(b, id)
		}
	}
	if h.version >= 3 {
		b = binary.AppendUvarint(b, uint64(len(h.keyDesc)))
		b = append(b, h.keyDesc...)
		b = binary.AppendUvarint(b, uint64(h.parts))
	}
	body, err := a.appendState(nil)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// decodeState checks a state file and returns its header, counts and
// the subcommand's state bytes (aliasing data).
func decodeState(data []byte) (h stateHeader, c counts, body []byte, err error) {
	nl := bytes.IndexByte(data[:min(len(data), 64)], '\n')
	if nl < 0 || !bytes.HasPrefix(data, []byte(stateMagic+" ")) {
		return h, c, nil, errNotState
	}
	// The line is exactly "streamstat-state VERSION CMD": nothing else
	// decodes, so that a decoded file re-encodes to the same bytes.
	f := strings.Split(string(data[:nl]), " ")
	if len(f) != 3 || f[2] == "" {
		return h, c, nil, errNotState
	}
	ver, err := strconv.Atoi(f[1])
	if err != nil || ver < 1 || strconv.Itoa(ver) != f[1] {
		return h, c, nil, errNotState
	}
	if ver > stateVersionKeys {
		return h, c, nil, fmt.Errorf("version %d, this build reads 1 to %d: %w", ver, stateVersionKeys, errStateVer)
	}
	h = stateHeader{version: ver, cmd: f[2], complete: true}
	if len(data) < nl+1+4 {
		return h, c, nil, fmt.Errorf("%w (truncated)", errStateCheck)
	}
	end := len(data) - 4
	if crc32.Checksum(data[:end], castagnoli) != binary.LittleEndian.Uint32(data[end:]) {
		return h, c, nil, errStateCheck
	}
	r := envelope.NewReader(data[nl+1 : end])
	c.Records, c.Skipped, c.Bad, c.Shed = r.MinimalUvarint(), r.MinimalUvarint(), r.MinimalUvarint(), r.MinimalUvarint()
	if ver >= 2 {
		complete, field := r.MinimalUvarint(), r.MinimalUvarint()
		delim := r.LenBytes()
		n := r.MinimalUvarint()
		if r.Err == nil && (complete > 1 || field > 1<<31 || n > uint64(r.Len()/8)) {
			r.Err = fmt.Errorf("state header: %w", sketch.ErrCorrupt)
		}
		h.complete, h.field, h.delim = complete == 1, int(field), string(delim)
		for i := uint64(0); r.Err == nil && i < n; i++ {
			h.sources = append(h.sources, r.U64())
		}
		if r.Err == nil && !isStrictlyAscending(h.sources) {
			r.Err = fmt.Errorf("state sources out of order: %w", sketch.ErrCorrupt)
		}
	}
	if ver >= 3 {
		desc := r.LenBytes()
		parts := r.MinimalUvarint()
		if r.Err == nil && (len(desc) == 0 || parts < 1 || parts > 1<<10) {
			r.Err = fmt.Errorf("state key: %w", sketch.ErrCorrupt)
		}
		h.keyDesc, h.parts = string(desc), int(parts)
	}
	n := r.MinimalUvarint()
	body = r.Bytes(int(min(n, uint64(r.Len()+1))))
	if err := r.Done(); err != nil {
		return h, c, nil, fmt.Errorf("state file damaged: %w", err)
	}
	return h, c, body, nil
}

func isStrictlyAscending(s []uint64) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// mergeSources returns the union of two sorted source lists, or false if
// they share one (the same run would count twice).
func mergeSources(a, b []uint64) ([]uint64, bool) {
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			return nil, false
		}
	}
	return out, true
}

// shape describes the sketch of an aggregate where merging two of other
// shapes would lose what the user asked for (the sketches would merge,
// at the coarser shape).
func shape(a aggregate) string {
	switch a := a.(type) {
	case *distinctAgg:
		return fmt.Sprintf("precision %d", a.hll.Precision())
	case *topAgg:
		return fmt.Sprintf("%d counters", a.top.Capacity())
	case *freqAgg:
		return fmt.Sprintf("width %d, depth %d", a.cm.Width(), a.cm.Depth())
	case *sampleAgg:
		return fmt.Sprintf("k %d", a.res.K())
	}
	return ""
}
