package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// State files (--save, read by merge) are:
//
//	"streamstat-state 1 CMD\n"   a text line: magic, format version, subcommand
//	uvarint records, skipped, bad values, shed
//	uvarint n, then n bytes      the subcommand's state (its sketches in
//	                             their own checksummed encodings)
//	uint32 CRC-32C (Castagnoli), little-endian, of every byte before it
//
// The text line lets `head -1 FILE` say what a file is; the checksum
// catches a truncated or altered file before anything is decoded.

const (
	stateMagic   = "streamstat-state"
	stateVersion = 1
)

// Errors about state files. Decoding errors also wrap the sketch
// sentinels (ErrCorrupt, ErrChecksum, ...) where they apply.
var (
	errNotState   = errors.New("not a streamstat state file (write one with --save)")
	errStateVer   = errors.New("state file written by a newer streamstat")
	errStateCheck = errors.New("state file damaged: checksum mismatch")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeState(cmd string, c counts, a aggregate) ([]byte, error) {
	b := fmt.Appendf(nil, "%s %d %s\n", stateMagic, stateVersion, cmd)
	for _, v := range []uint64{c.Records, c.Skipped, c.Bad, c.Shed} {
		b = binary.AppendUvarint(b, v)
	}
	body, err := a.appendState(nil)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// decodeState checks a state file and returns its subcommand, counts and
// the subcommand's state bytes (aliasing data).
func decodeState(data []byte) (cmd string, c counts, body []byte, err error) {
	nl := bytes.IndexByte(data[:min(len(data), 64)], '\n')
	if nl < 0 || !bytes.HasPrefix(data, []byte(stateMagic+" ")) {
		return "", c, nil, errNotState
	}
	// The line is exactly "streamstat-state VERSION CMD": nothing else
	// decodes, so that a decoded file re-encodes to the same bytes.
	f := strings.Split(string(data[:nl]), " ")
	if len(f) != 3 || f[2] == "" {
		return "", c, nil, errNotState
	}
	ver, err := strconv.Atoi(f[1])
	if err != nil || ver < 1 || strconv.Itoa(ver) != f[1] {
		return "", c, nil, errNotState
	}
	cmd = f[2]
	if ver != stateVersion {
		return "", c, nil, fmt.Errorf("version %d, this build reads %d: %w", ver, stateVersion, errStateVer)
	}
	if len(data) < nl+1+4 {
		return "", c, nil, fmt.Errorf("%w (truncated)", errStateCheck)
	}
	end := len(data) - 4
	if crc32.Checksum(data[:end], castagnoli) != binary.LittleEndian.Uint32(data[end:]) {
		return "", c, nil, errStateCheck
	}
	r := envelope.NewReader(data[nl+1 : end])
	c.Records, c.Skipped, c.Bad, c.Shed = readUvarint(r), readUvarint(r), readUvarint(r), readUvarint(r)
	n := readUvarint(r)
	body = r.Bytes(int(min(n, uint64(r.Len()+1))))
	if err := r.Done(); err != nil {
		return "", c, nil, fmt.Errorf("state file damaged: %w", err)
	}
	return cmd, c, body, nil
}

// readUvarint reads a uvarint and rejects a longer encoding than
// binary.AppendUvarint writes, so that state files stay canonical.
func readUvarint(r *envelope.Reader) uint64 {
	n := r.Len()
	v := r.Uvarint()
	if r.Err == nil && n-r.Len() != len(binary.AppendUvarint(nil, v)) {
		r.Err = fmt.Errorf("non-minimal varint: %w", sketch.ErrCorrupt)
	}
	return v
}
