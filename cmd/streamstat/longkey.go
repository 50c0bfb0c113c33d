package main

import (
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
)

// topMaxKey is the most bytes of a key top keeps (pipeline.LineConfig's
// MaxKeyLen). A longer key is kept as its first topMaxKey bytes plus its
// length and hash: counted exactly like the whole key (two keys share a
// counter only if they share those bytes, their length and their 64-bit
// hash), and shown truncated, marked so (shownKey). Without the cap, top
// kept every long line in its sketch and its answer several times over:
// 25 times the longest line in memory.
const topMaxKey = 4096

// shownKey is a key of an answer, as stored: whole, or the prefix of a
// truncated one with the whole key's length and hash.
type shownKey struct {
	key       []byte
	truncated bool
	length    int64
	hash      uint64
	tuple     bool // a composite key (-f 1,3, --json a,b): shown as a tuple
}

func showKey(k string) shownKey {
	if p, n, h, ok := pipeline.ParseCappedKey([]byte(k), topMaxKey); ok {
		return shownKey{key: p, truncated: true, length: n, hash: h}
	}
	return shownKey{key: []byte(k)}
}

// showKeyOf is showKey for a key that is composite when tuple is set.
func showKeyOf(k string, tuple bool) shownKey {
	sk := showKey(k)
	sk.tuple = tuple && !sk.truncated
	return sk
}

// marker follows a truncated key in text and CSV answers: its length and
// hash tell apart two long keys that start alike.
func (k shownKey) marker() string {
	if !k.truncated {
		return ""
	}
	return fmt.Sprintf("... (truncated: %d bytes, xxh64 %016x)", k.length, k.hash)
}

// text is the key for a text answer (textKey, then the marker).
func (k shownKey) text() string {
	if k.tuple {
		return pipeline.FormatTuple(k.key)
	}
	return textKey(k.key) + k.marker()
}

// csv is the key for a CSV answer: its bytes, then the marker.
func (k shownKey) csv() string {
	if k.tuple {
		return pipeline.FormatTuple(k.key)
	}
	return string(k.key) + k.marker()
}

// truncJSON marks a truncated key in a JSON answer: "key" (or
// "key_base64") holds its first topMaxKey bytes.
type truncJSON struct {
	Truncated bool   `json:"truncated,omitempty"`
	Length    int64  `json:"length,omitempty"`
	XXH64     string `json:"xxh64,omitempty"`
}

func (k shownKey) json() (jsonKey, truncJSON) {
	if k.tuple {
		return newTupleJSONKey(k.key), truncJSON{}
	}
	if !k.truncated {
		return newJSONKey(k.key), truncJSON{}
	}
	return newJSONKey(k.key), truncJSON{Truncated: true, Length: k.length, XXH64: fmt.Sprintf("%016x", k.hash)}
}
