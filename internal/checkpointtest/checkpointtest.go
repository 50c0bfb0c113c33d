// Package checkpointtest reads, for tests, what a job's workers saved in a
// checkpoint directory.
package checkpointtest

import (
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// Positions returns the positions (as pipeline/job encodes them) that the
// workers saved in the newest complete checkpoint in dir, parts src-0,
// src-1, ... up to the first one missing or not 8 bytes long. The error
// is the store's: dir is not a checkpoint directory, or it holds no
// complete checkpoint.
func Positions(dir string) ([]int64, error) {
	store, err := checkpoint.NewDirStore(dir, 0, func(string, ...any) {})
	if err != nil {
		return nil, err
	}
	m, err := store.Latest()
	if err != nil {
		return nil, err
	}
	var pos []int64
	for i := 0; ; i++ {
		data, err := store.ReadPart(m, fmt.Sprintf("src-%d", i))
		if err != nil || len(data) != 8 {
			return pos, nil
		}
		pos = append(pos, int64(binary.LittleEndian.Uint64(data)))
	}
}
