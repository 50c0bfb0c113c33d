package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline"
)

// SourceConfig describes a Source: a fixed set of partitions of one
// topic, read without a consumer group. Fields left zero take the
// documented defaults. It is a plain value.
type SourceConfig struct {
	// Brokers and Topic are required.
	Brokers []string
	Topic   string
	// Partitions the source reads; nil means every partition of the
	// topic. A restored state replaces them (see RestoreSource).
	Partitions []int32
	// Extract, as Config.Extract: nil keys each record by its value.
	Extract pipeline.Extractor
	// StopAtEnd makes Fill return io.EOF once every partition has reached
	// the end it had when the source first read it (its last stable
	// offset): a batch job over what the topic holds now. Without it the
	// source reads until the pipeline's context ends.
	StopAtEnd bool
	// AllowOffsetGaps accepts offsets that skip (aborted transactions of
	// a transactional input, compaction); by default a gap is an error
	// (ErrOffsetGap). Transaction markers are no gap: the source sees
	// them (and skips them).
	AllowOffsetGaps bool
	// Timeout bounds listing the topic's partitions and end offsets; 0
	// means DefaultTimeout.
	Timeout time.Duration
	// Opts are extra franz-go client options.
	Opts []kgo.Opt
}

// Source is a pipeline.Source reading a fixed set of partitions of a
// topic, read_committed, for a Pipeline that checkpoints to its own
// checkpoint.Store: its byte state (SourceState) is the next offset of
// each partition, so a restored pipeline goes on exactly after the records
// its operators' state holds, and a checkpoint taken with n sources
// restores into m (RedealSources deals the partitions anew). Flow control
// reaches the brokers: the pipeline calls Fill when it holds credit, and
// when a Fill leaves more than four batches of records fetched and not
// taken, the source pauses fetching its partitions (PauseFetchPartitions)
// until the next Fill resumes them, so that a back-pressured pipeline does
// not make franz-go fetch on.
//
// Make one with NewSource or Sources; the zero value is not usable. Fill
// is called from one goroutine at a time; Wake from any goroutine. Close
// releases the client.
type Source struct {
	cfg SourceConfig

	cl      *kgo.Client
	next    map[int32]int64 // next offset per partition; -1: from the start
	end     map[int32]int64 // StopAtEnd: offset to reach per partition
	pending []*kgo.Record
	paused  bool
	pauses  int                // times fetching was paused, for tests
	parts   map[string][]int32 // the source's partitions, to pause and resume
	scratch pipeline.Scratch

	mu     sync.Mutex // guards woken and cancel, for Wake
	woken  bool
	cancel context.CancelFunc
}

var (
	_ pipeline.RescalableSource = (*Source)(nil)
	_ pipeline.WakeableSource   = (*Source)(nil)
)

// NewSource checks cfg and returns a source; it does no I/O.
func NewSource(cfg SourceConfig) (*Source, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg}
	if cfg.Partitions != nil {
		s.next = make(map[int32]int64, len(cfg.Partitions))
		for _, p := range cfg.Partitions {
			if p < 0 {
				return nil, fmt.Errorf("%w: partition %d", ErrConfig, p)
			}
			s.next[p] = -1
		}
	}
	return s, nil
}

// Sources lists the topic's partitions and returns m sources that read
// them, partition p going to source p mod m.
func Sources(ctx context.Context, cfg SourceConfig, m int) ([]pipeline.Source, error) {
	if m < 1 {
		return nil, fmt.Errorf("%w: %d sources", ErrConfig, m)
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	n, err := topicPartitions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	out := make([]pipeline.Source, m)
	for i := range out {
		c := cfg
		c.Partitions = []int32{}
		for p := int32(i); p < n; p += int32(m) {
			c.Partitions = append(c.Partitions, p)
		}
		if out[i], err = NewSource(c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fill checks cfg and sets its zero Timeout to DefaultTimeout.
func (cfg *SourceConfig) fill() error {
	switch {
	case len(cfg.Brokers) == 0:
		return fmt.Errorf("%w: no brokers", ErrConfig)
	case cfg.Topic == "":
		return fmt.Errorf("%w: no topic", ErrConfig)
	case cfg.Timeout < 0:
		return fmt.Errorf("%w: negative timeout", ErrConfig)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return nil
}

// topicPartitions needs a filled cfg.
func topicPartitions(ctx context.Context, cfg SourceConfig) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cl, err := adminClient(cfg.Brokers, cfg.Opts)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	n, ok, err := partitionCount(ctx, kadm.NewClient(cl), cfg.Topic, cfg.Brokers)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNoTopic, cfg.Topic)
	}
	return n, nil
}

// Close closes the source's client. Fill must not run.
func (s *Source) Close() {
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
}

// Offsets returns the next offset of each partition (-1: no record taken
// yet).
func (s *Source) Offsets() map[int32]int64 { return maps.Clone(s.next) }

// open starts the client at the source's offsets.
func (s *Source) open(ctx context.Context) error {
	if s.next == nil {
		n, err := topicPartitions(ctx, s.cfg)
		if err != nil {
			return err
		}
		s.next = make(map[int32]int64, n)
		for p := range n {
			s.next[p] = -1
		}
	}
	start := make(map[int32]kgo.Offset, len(s.next))
	for p, off := range s.next {
		if off < 0 {
			start[p] = kgo.NewOffset().AtStart()
		} else {
			start[p] = kgo.NewOffset().At(off)
		}
	}
	if s.cfg.StopAtEnd {
		if err := s.listEnds(ctx); err != nil {
			return err
		}
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.Topic: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	}, s.cfg.Opts...)...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	s.cl = cl
	s.parts = map[string][]int32{s.cfg.Topic: slices.Sorted(maps.Keys(s.next))}
	return nil
}

// listEnds reads the last stable offset of each partition.
func (s *Source) listEnds(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	cl, err := adminClient(s.cfg.Brokers, s.cfg.Opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, s.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return adminErr(ctx, "listing end offsets of "+s.cfg.Topic, s.cfg.Brokers, err)
	}
	s.end = make(map[int32]int64, len(s.next))
	for p := range s.next {
		e, ok := ends.Lookup(s.cfg.Topic, p)
		if !ok {
			return fmt.Errorf("%w: topic %s has no partition %d", ErrConfig, s.cfg.Topic, p)
		}
		s.end[p] = e.Offset
	}
	return nil
}

// done reports whether every partition reached its end (StopAtEnd).
func (s *Source) done() bool {
	for p, e := range s.end {
		if n := s.next[p]; n < e && e > 0 {
			return false
		}
	}
	return true
}

// pauseBatches is how many batches of fetched records may wait for credit
// before the source pauses fetching.
const pauseBatches = 4

// Wake implements pipeline.WakeableSource: a Fill waiting for records
// returns soon, with what it has.
func (s *Source) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.woken = true
	if s.cancel != nil {
		s.cancel()
	}
}

// Fill implements pipeline.Source. It appends up to max records of one
// poll, waiting for records if it holds none.
func (s *Source) Fill(ctx context.Context, b *pipeline.Batch, max int) error {
	if s.cl == nil {
		if err := s.open(ctx); err != nil {
			return err
		}
	}
	if s.paused {
		// A poll drops what it would return of paused partitions (to be
		// fetched again): resume before polling.
		s.cl.ResumeFetchPartitions(s.parts)
		s.paused = false
	}
	if len(s.pending) == 0 {
		if s.cfg.StopAtEnd && s.done() {
			return io.EOF
		}
		if err := s.poll(ctx, max); err != nil || len(s.pending) == 0 {
			return err
		}
	}
	n := 0
	for n < len(s.pending) && b.Len() < max {
		if err := s.take(b, s.pending[n]); err != nil {
			return err
		}
		n++
	}
	s.pending = s.pending[n:]
	// Until the next Fill (the pipeline calls it when it has credit), the
	// records fetched and not taken wait: past pauseBatches batches of
	// them, stop fetching more.
	if s.cl.BufferedFetchRecords()+int64(len(s.pending)) >= pauseBatches*int64(max) {
		s.cl.PauseFetchPartitions(s.parts)
		s.paused = true
		s.pauses++
	}
	if s.cfg.StopAtEnd && len(s.pending) == 0 && s.done() {
		return io.EOF
	}
	return nil
}

// poll waits for the next records, or a wake-up.
func (s *Source) poll(ctx context.Context, max int) error {
	s.mu.Lock()
	if s.woken {
		s.woken = false
		s.mu.Unlock()
		return nil
	}
	pctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	fs := s.cl.PollRecords(pctx, max)
	s.mu.Lock()
	s.cancel, s.woken = nil, false
	s.mu.Unlock()
	cancel()
	if err := ctx.Err(); err != nil {
		return err
	}
	var ferr error
	fs.EachError(func(t string, p int32, err error) {
		if ferr == nil && !errors.Is(err, context.Canceled) {
			ferr = fmt.Errorf("kafka: fetching %s partition %d: %w", t, p, err)
		}
	})
	if ferr != nil {
		return ferr
	}
	s.pending = fs.Records()
	return nil
}

// take appends r to b (a transaction marker only advances the offset).
func (s *Source) take(b *pipeline.Batch, r *kgo.Record) error {
	next, ok := s.next[r.Partition]
	switch {
	case !ok:
		return fmt.Errorf("kafka: record of %s partition %d, which the source does not read", r.Topic, r.Partition)
	case next < 0, r.Offset == next:
	case s.cfg.AllowOffsetGaps && r.Offset > next:
	default:
		return fmt.Errorf("%w: %s partition %d: record at offset %d, want %d", ErrOffsetGap, r.Topic, r.Partition, r.Offset, next)
	}
	s.next[r.Partition] = r.Offset + 1
	if r.Attrs.IsControl() {
		return nil
	}
	addRecord(b, s.cfg.Extract, &s.scratch, r) // no key: skipped, as a LineSource skips it
	return nil
}

// The source state: "SSKS" | version u8 | topic len uvarint | topic |
// count uvarint | (partition uvarint, next+1 uvarint) in partition order |
// CRC-32C u32.
var sourceMagic = [4]byte{'S', 'S', 'K', 'S'}

// SourceState implements pipeline.StatefulSource: the topic and the next
// offset of each partition.
func (s *Source) SourceState() ([]byte, error) {
	if s.next == nil {
		return nil, fmt.Errorf("%w: source state of %s before its partitions are known (the first Fill lists them; give SourceConfig.Partitions)", ErrConfig, s.cfg.Topic)
	}
	return encodeSourceState(s.cfg.Topic, s.next), nil
}

// RestoreSource implements pipeline.StatefulSource: the source goes on at
// the state's offsets, with the state's partitions. It must be called
// before the first Fill.
func (s *Source) RestoreSource(state []byte) error {
	if s.cl != nil {
		return fmt.Errorf("%w: RestoreSource after Fill", ErrConfig)
	}
	topic, next, err := decodeSourceState(state)
	if err != nil {
		return err
	}
	if topic != s.cfg.Topic {
		return fmt.Errorf("%w: state of topic %q restored into a source of %q", ErrBadSnapshot, topic, s.cfg.Topic)
	}
	s.next = next
	return nil
}

// RedealSources implements pipeline.RescalableSource: the partitions of
// the n states are dealt to m sources, partition p to source p mod m, each
// with its offset.
func (s *Source) RedealSources(states [][]byte, m int) ([][]byte, error) {
	if m < 1 {
		return nil, fmt.Errorf("%w: %d sources", ErrConfig, m)
	}
	all := make(map[int32]int64)
	for i, st := range states {
		topic, next, err := decodeSourceState(st)
		if err != nil {
			return nil, fmt.Errorf("source %d: %w", i, err)
		}
		if topic != s.cfg.Topic {
			return nil, fmt.Errorf("%w: source %d's state is of topic %q, not %q", ErrBadSnapshot, i, topic, s.cfg.Topic)
		}
		for p, off := range next {
			if _, dup := all[p]; dup {
				return nil, fmt.Errorf("%w: partition %d in two source states", ErrBadSnapshot, p)
			}
			all[p] = off
		}
	}
	out := make([][]byte, m)
	for i := range out {
		next := make(map[int32]int64)
		for p, off := range all {
			if int(p)%m == i {
				next[p] = off
			}
		}
		out[i] = encodeSourceState(s.cfg.Topic, next)
	}
	return out, nil
}

func encodeSourceState(topic string, next map[int32]int64) []byte {
	b := append(sourceMagic[:], formatVersion)
	b = binary.AppendUvarint(b, uint64(len(topic)))
	b = append(b, topic...)
	b = binary.AppendUvarint(b, uint64(len(next)))
	for _, p := range slices.Sorted(maps.Keys(next)) {
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(next[p]+1))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeSourceState(b []byte) (string, map[int32]int64, error) {
	r, err := checkRecord(b, sourceMagic, 4+1+1+1+4)
	if err != nil {
		return "", nil, err
	}
	bad := func(what string) (string, map[int32]int64, error) {
		return "", nil, fmt.Errorf("%w: source state: %s", ErrBadSnapshot, what)
	}
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(r)
		if n <= 0 {
			return 0, false
		}
		r = r[n:]
		return v, true
	}
	tl, ok := uv()
	if !ok || tl > uint64(len(r)) {
		return bad("topic length")
	}
	topic := string(r[:tl])
	r = r[tl:]
	count, ok := uv()
	if !ok || count > uint64(len(r))/2 {
		return bad("partition count")
	}
	next := make(map[int32]int64, count)
	last := int64(-1)
	for range count {
		p, ok1 := uv()
		off, ok2 := uv()
		if !ok1 || !ok2 || p > 1<<31-1 || int64(p) <= last || off > 1<<62 {
			return bad("partition entry")
		}
		last = int64(p)
		next[int32(p)] = int64(off) - 1
	}
	if len(r) != 0 {
		return bad("trailing bytes")
	}
	return topic, next, nil
}
