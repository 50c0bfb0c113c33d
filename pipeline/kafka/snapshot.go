package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
)

// Snapshot is the committed state of one input partition (key group), as
// one transaction wrote it to the checkpoint topic: the operator's state
// after exactly the records before Offset. It is a plain value.
type Snapshot struct {
	// Partition is the input partition (and the checkpoint topic's
	// partition it is stored in).
	Partition int32
	// Offset is the next input offset to read: the group's committed
	// offset for the partition, committed in the same transaction.
	Offset int64
	// Records counts the records the operator was given; Shed those the
	// shedder dropped (their offsets advanced all the same); Skipped
	// those without a key (Config.Extract rejected them). All since the
	// partition's first record.
	Records, Shed, Skipped uint64
	// State is the operator's MarshalBinary.
	State []byte
	// ShedState is the shedder's MarshalBinary, if it has one.
	ShedState []byte
	// ID tells snapshots apart: the manifest and the chunks of one
	// snapshot carry the same ID.
	ID uint64
}

// The checkpoint topic holds two kinds of record, both little-endian and
// closed by a CRC-32C of what precedes it:
//
//	manifest: "SSKM" | version u8 | partition i32 | id u64 | offset i64 |
//	          records u64 | shed u64 | skipped u64 | chunks u32 |
//	          state len u64 | shed state len u64 | payload crc u32 | crc u32
//	chunk:    "SSKC" | version u8 | partition i32 | id u64 | index u32 |
//	          payload bytes | crc u32
//
// The payload is the operator state followed by the shedder state, cut
// into chunks in order. A snapshot's chunks and manifest are written in one
// transaction, chunks first; each record's key (m<partition>,
// c<partition>.<index>) is what compaction keeps the latest of.
const (
	formatVersion = 1
	manifestSize  = 4 + 1 + 4 + 8 + 8 + 8 + 8 + 8 + 4 + 8 + 8 + 4 + 4
	chunkOverhead = 4 + 1 + 4 + 8 + 4 + 4
)

var (
	manifestMagic = [4]byte{'S', 'S', 'K', 'M'}
	chunkMagic    = [4]byte{'S', 'S', 'K', 'C'}
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
)

// manifest is the decoded manifest record.
type manifest struct {
	partition              int32
	id                     uint64
	offset                 int64
	records, shed, skipped uint64
	chunks                 uint32
	stateLen, shedLen      uint64
	payloadCRC             uint32
}

// chunk is a decoded chunk record; payload aliases the record value.
type chunk struct {
	partition int32
	id        uint64
	index     uint32
	payload   []byte
}

func manifestKey(p int32) []byte { return strconv.AppendInt([]byte{'m'}, int64(p), 10) }

func chunkKey(p int32, i int) []byte {
	k := strconv.AppendInt([]byte{'c'}, int64(p), 10)
	k = append(k, '.')
	return strconv.AppendInt(k, int64(i), 10)
}

func (m *manifest) append(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, manifestMagic[:]...)
	dst = append(dst, formatVersion)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(m.partition))
	dst = binary.LittleEndian.AppendUint64(dst, m.id)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(m.offset))
	dst = binary.LittleEndian.AppendUint64(dst, m.records)
	dst = binary.LittleEndian.AppendUint64(dst, m.shed)
	dst = binary.LittleEndian.AppendUint64(dst, m.skipped)
	dst = binary.LittleEndian.AppendUint32(dst, m.chunks)
	dst = binary.LittleEndian.AppendUint64(dst, m.stateLen)
	dst = binary.LittleEndian.AppendUint64(dst, m.shedLen)
	dst = binary.LittleEndian.AppendUint32(dst, m.payloadCRC)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

func appendChunk(dst []byte, p int32, id uint64, index int, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, chunkMagic[:]...)
	dst = append(dst, formatVersion)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p))
	dst = binary.LittleEndian.AppendUint64(dst, id)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(index))
	dst = append(dst, payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// checkRecord checks a record's magic, version and checksum, returning the
// bytes between the version and the checksum.
func checkRecord(b []byte, magic [4]byte, min int) ([]byte, error) {
	if len(b) < min {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrBadSnapshot, len(b), min)
	}
	if [4]byte(b[:4]) != magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrBadSnapshot, b[:4])
	}
	if b[4] != formatVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads %d", ErrBadSnapshot, b[4], formatVersion)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	return body[5:], nil
}

func isManifest(b []byte) bool { return len(b) >= 4 && [4]byte(b[:4]) == manifestMagic }
func isChunk(b []byte) bool    { return len(b) >= 4 && [4]byte(b[:4]) == chunkMagic }

func decodeManifest(b []byte) (manifest, error) {
	if len(b) != manifestSize {
		return manifest{}, fmt.Errorf("%w: manifest of %d bytes, want %d", ErrBadSnapshot, len(b), manifestSize)
	}
	r, err := checkRecord(b, manifestMagic, manifestSize)
	if err != nil {
		return manifest{}, err
	}
	le := binary.LittleEndian
	m := manifest{
		partition:  int32(le.Uint32(r)),
		id:         le.Uint64(r[4:]),
		offset:     int64(le.Uint64(r[12:])),
		records:    le.Uint64(r[20:]),
		shed:       le.Uint64(r[28:]),
		skipped:    le.Uint64(r[36:]),
		chunks:     le.Uint32(r[44:]),
		stateLen:   le.Uint64(r[48:]),
		shedLen:    le.Uint64(r[56:]),
		payloadCRC: le.Uint32(r[64:]),
	}
	switch {
	case m.partition < 0:
		return manifest{}, fmt.Errorf("%w: manifest of partition %d", ErrBadSnapshot, m.partition)
	case m.offset < 0:
		return manifest{}, fmt.Errorf("%w: manifest at offset %d", ErrBadSnapshot, m.offset)
	case m.stateLen > 1<<40 || m.shedLen > 1<<40:
		return manifest{}, fmt.Errorf("%w: manifest claims %d + %d bytes of state", ErrBadSnapshot, m.stateLen, m.shedLen)
	case (m.stateLen+m.shedLen == 0) != (m.chunks == 0):
		return manifest{}, fmt.Errorf("%w: manifest of %d chunks for %d bytes", ErrBadSnapshot, m.chunks, m.stateLen+m.shedLen)
	}
	return m, nil
}

func decodeChunk(b []byte) (chunk, error) {
	r, err := checkRecord(b, chunkMagic, chunkOverhead)
	if err != nil {
		return chunk{}, err
	}
	le := binary.LittleEndian
	c := chunk{partition: int32(le.Uint32(r)), id: le.Uint64(r[4:]), index: le.Uint32(r[12:]), payload: r[16:]}
	if c.partition < 0 {
		return chunk{}, fmt.Errorf("%w: chunk of partition %d", ErrBadSnapshot, c.partition)
	}
	return c, nil
}

// encodeSnapshot cuts s into chunk records of at most maxValue bytes each
// and its manifest; the values returned alias one buffer.
func encodeSnapshot(s *Snapshot, maxValue int) (chunks [][]byte, man []byte) {
	maxPayload := maxValue - chunkOverhead
	payload := make([]byte, 0, len(s.State)+len(s.ShedState))
	payload = append(append(payload, s.State...), s.ShedState...)
	n := (len(payload) + maxPayload - 1) / maxPayload
	buf := make([]byte, 0, len(payload)+n*chunkOverhead+manifestSize)
	for i := 0; i < n; i++ {
		part := payload[i*maxPayload : min(len(payload), (i+1)*maxPayload)]
		start := len(buf)
		buf = appendChunk(buf, s.Partition, s.ID, i, part)
		chunks = append(chunks, buf[start:len(buf):len(buf)])
	}
	m := manifest{
		partition: s.Partition, id: s.ID, offset: s.Offset,
		records: s.Records, shed: s.Shed, skipped: s.Skipped,
		chunks: uint32(n), stateLen: uint64(len(s.State)), shedLen: uint64(len(s.ShedState)),
		payloadCRC: crc32.Checksum(payload, castagnoli),
	}
	start := len(buf)
	buf = m.append(buf)
	return chunks, buf[start:]
}

// assemble joins a manifest and its chunks (indexed by chunk index) into a
// Snapshot, checking that they belong together.
func assemble(m manifest, chunks map[uint32]chunk) (Snapshot, error) {
	total := m.stateLen + m.shedLen
	payload := make([]byte, 0, min(total, 1<<26))
	for i := uint32(0); i < m.chunks; i++ {
		c, ok := chunks[i]
		if !ok || c.id != m.id || c.partition != m.partition {
			return Snapshot{}, fmt.Errorf("%w: partition %d snapshot at offset %d: chunk %d of %d missing", ErrBadSnapshot, m.partition, m.offset, i, m.chunks)
		}
		payload = append(payload, c.payload...)
		if uint64(len(payload)) > total {
			break
		}
	}
	if uint64(len(payload)) != total {
		return Snapshot{}, fmt.Errorf("%w: partition %d snapshot at offset %d: %d bytes of chunks, manifest says %d", ErrBadSnapshot, m.partition, m.offset, len(payload), total)
	}
	if crc32.Checksum(payload, castagnoli) != m.payloadCRC {
		return Snapshot{}, fmt.Errorf("%w: partition %d snapshot at offset %d: payload checksum mismatch", ErrBadSnapshot, m.partition, m.offset)
	}
	s := Snapshot{
		Partition: m.partition, Offset: m.offset, ID: m.id,
		Records: m.records, Shed: m.shed, Skipped: m.skipped,
		State: payload[:m.stateLen:m.stateLen],
	}
	if m.shedLen > 0 {
		s.ShedState = payload[m.stateLen:]
	}
	return s, nil
}
