package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// latest is what reading one checkpoint partition finds: the last
// committed manifest and, per chunk index, the last chunk.
type latest struct {
	man    manifest
	has    bool
	chunks map[uint32]chunk
	badErr error // first record that did not decode
}

// readLatest reads the given partitions of the checkpoint topic from their
// start to their last stable offset (read_committed: records of aborted
// or open transactions are never seen) and returns each partition's latest
// snapshot, or no entry for a partition that has none.
//
// The read knows where to stop because the worker writes only in
// transactions: the last offset before the last stable offset is a
// transaction marker, which it asks to see (KeepControlRecords).
func readLatest(ctx context.Context, brokers []string, opts []kgo.Opt, topic string, parts []int32) (map[int32]Snapshot, error) {
	base := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)
	admCl, err := adminClient(brokers, opts)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(admCl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	var starts kadm.ListedOffsets
	if err == nil {
		starts, err = adm.ListStartOffsets(ctx, topic)
		if err == nil {
			err = starts.Error()
		}
	}
	admCl.Close()
	if err != nil {
		return nil, adminErr(ctx, "listing offsets of checkpoint topic "+topic, brokers, err)
	}
	want := make(map[int32]int64) // partition -> last offset to read
	consume := make(map[int32]kgo.Offset)
	for _, p := range parts {
		end, ok := ends.Lookup(topic, p)
		if !ok {
			return nil, fmt.Errorf("%w: checkpoint topic %s has no partition %d", ErrPartitionMismatch, topic, p)
		}
		start, _ := starts.Lookup(topic, p)
		if end.Offset <= start.Offset || end.Offset <= 0 {
			continue
		}
		want[p] = end.Offset - 1
		consume[p] = kgo.NewOffset().AtStart()
	}
	out := make(map[int32]Snapshot)
	if len(want) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	defer cl.Close()
	found := make(map[int32]*latest, len(want))
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			left := slices.Sorted(maps.Keys(want))
			return nil, adminErr(ctx, fmt.Sprintf("reading checkpoint topic %s partitions %v", topic, left), brokers, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("kafka: reading checkpoint topic %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := want[r.Partition]
			if !ok {
				return
			}
			if !r.Attrs.IsControl() {
				l := found[r.Partition]
				if l == nil {
					l = &latest{chunks: make(map[uint32]chunk)}
					found[r.Partition] = l
				}
				l.add(r.Partition, r.Value)
			}
			if r.Offset >= last {
				delete(want, r.Partition)
			}
		})
	}
	for p, l := range found {
		if l.badErr != nil {
			return nil, fmt.Errorf("checkpoint topic %s partition %d: %w", topic, p, l.badErr)
		}
		if !l.has {
			continue
		}
		s, err := assemble(l.man, l.chunks)
		if err != nil {
			return nil, err
		}
		out[p] = s
	}
	return out, nil
}

// add takes one checkpoint record of partition p. The value is copied:
// the fetch buffers are not ours to keep.
func (l *latest) add(p int32, v []byte) {
	switch {
	case isManifest(v):
		m, err := decodeManifest(v)
		if err == nil && m.partition != p {
			err = fmt.Errorf("%w: manifest of partition %d stored in partition %d", ErrBadSnapshot, m.partition, p)
		}
		if err != nil {
			l.badErr = cmpOr(l.badErr, err)
			return
		}
		l.man, l.has = m, true
	case isChunk(v):
		c, err := decodeChunk(slices.Clone(v))
		if err == nil && c.partition != p {
			err = fmt.Errorf("%w: chunk of partition %d stored in partition %d", ErrBadSnapshot, c.partition, p)
		}
		if err != nil {
			l.badErr = cmpOr(l.badErr, err)
			return
		}
		l.chunks[c.index] = c
	default:
		l.badErr = cmpOr(l.badErr, fmt.Errorf("%w: a record that is neither manifest nor chunk", ErrBadSnapshot))
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
