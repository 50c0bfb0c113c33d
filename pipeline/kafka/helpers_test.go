package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

const (
	testTopic      = "clicks"
	testGroup      = "g"
	testPartitions = 6
	testSession    = 1500 * time.Millisecond
)

// exactOp is the test's operator: exact per-key counts beside an HLL, so
// that a snapshot can be compared with the exact state at its offset and
// the merged HLL with one built over every record by one process.
type exactOp struct {
	counts map[string]uint64
	hll    sketch.HLL
}

func newExactOp(int32) (pipeline.Mergeable, error) {
	return &exactOp{counts: make(map[string]uint64)}, nil
}

func (o *exactOp) Process(in, out *pipeline.Batch) error {
	for i := range in.Records {
		o.counts[string(in.Key(i))]++
		o.hll.AddHash(in.Records[i].Hash)
	}
	return nil
}

func (o *exactOp) MarshalBinary() ([]byte, error) {
	h, err := o.hll.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := binary.AppendUvarint(nil, uint64(len(h)))
	b = append(b, h...)
	for _, k := range slices.Sorted(maps.Keys(o.counts)) {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, o.counts[k])
	}
	return b, nil
}

func (o *exactOp) UnmarshalBinary(b []byte) error {
	o.counts = make(map[string]uint64)
	o.hll = sketch.HLL{}
	return o.MergeBinary(b)
}

func (o *exactOp) MergeBinary(b []byte) error {
	if o.counts == nil {
		o.counts = make(map[string]uint64)
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return errors.New("exactOp: bad state")
	}
	var h sketch.HLL
	if err := h.UnmarshalBinary(b[k : k+int(n)]); err != nil {
		return err
	}
	if err := o.hll.Merge(&h); err != nil {
		return err
	}
	b = b[k+int(n):]
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return errors.New("exactOp: bad key")
		}
		key := string(b[k : k+int(n)])
		b = b[k+int(n):]
		c, k := binary.Uvarint(b)
		if k <= 0 {
			return errors.New("exactOp: bad count")
		}
		b = b[k:]
		o.counts[key] += c
	}
	return nil
}

// input is what the test produced, per partition in offset order.
type input struct {
	mu    sync.Mutex
	parts [testPartitions][]string
	// shed, if set, is the shedder configuration of the workers: the
	// exact state then counts the records a shedder with it, offered
	// the partition's records in one pass, keeps.
	shed *shedding.Config
}

// kept returns the records of p before offset n that the workers' state
// must count.
func (in *input) kept(p int32, n int64) []string {
	in.mu.Lock()
	recs := slices.Clone(in.parts[p][:n])
	in.mu.Unlock()
	if in.shed == nil {
		return recs
	}
	sh, err := shedding.NewShedder(*in.shed)
	if err != nil {
		panic(err)
	}
	var b pipeline.Batch
	for _, k := range recs {
		b.Add([]byte(k))
	}
	sh.Shed(&b, time.Time{}, pipeline.Pressure{})
	out := recs[:0]
	for i := range b.Records {
		out = append(out, string(b.Key(i)))
	}
	return out
}

// exact returns the exact operator over the first n records of p.
func (in *input) exact(p int32, n int64) *exactOp {
	o := &exactOp{counts: make(map[string]uint64)}
	var b pipeline.Batch
	for _, k := range in.kept(p, n) {
		b.Add([]byte(k))
	}
	o.Process(&b, nil)
	return o
}

// all is the exact operator over every record, built by one process.
func (in *input) all() *exactOp {
	o := &exactOp{counts: make(map[string]uint64)}
	var b pipeline.Batch
	ends := in.ends()
	for p := range int32(testPartitions) {
		for _, k := range in.kept(p, ends[p]) {
			b.Add([]byte(k))
		}
	}
	o.Process(&b, nil)
	return o
}

func (in *input) ends() [testPartitions]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	var e [testPartitions]int64
	for p := range e {
		e[p] = int64(len(in.parts[p]))
	}
	return e
}

// cluster is a kfake cluster of three brokers with the input topic.
type cluster struct {
	*kfake.Cluster
	addrs []string
	opts  []kfake.Opt
	in    input
	prod  *kgo.Client
	seq   int
	// key, if set, makes the key of record seq; by default keys come
	// from a skewed set of at most 500.
	key func(seq int) string
}

// started lists the workers started since the last newCluster, for
// failure messages (the tests do not run in parallel).
var started []*running

func newCluster(t testing.TB, opts ...kfake.Opt) *cluster {
	t.Helper()
	c := &cluster{opts: append([]kfake.Opt{
		kfake.NumBrokers(3),
		kfake.SeedTopics(testPartitions, testTopic),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		// KIP-848 groups take their session timeout and heartbeat
		// interval from the broker.
		kfake.BrokerConfigs(map[string]string{
			"group.consumer.session.timeout.ms":    strconv.Itoa(int(testSession.Milliseconds())),
			"group.consumer.heartbeat.interval.ms": "150",
		}),
	}, opts...)}
	kc, err := kfake.NewCluster(c.opts...)
	if err != nil {
		t.Fatal(err)
	}
	c.Cluster, c.addrs = kc, kc.ListenAddrs()
	started = nil
	t.Cleanup(func() { c.Cluster.Close() })
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	c.prod = prod
	return c
}

// restart closes the cluster and starts it again on the same ports, with
// the same options (a kfake.DataDir among them keeps its state).
func (c *cluster) restart(t testing.TB) {
	t.Helper()
	c.Cluster.Close()
	ports := make([]int, len(c.addrs))
	for i, a := range c.addrs {
		_, p, _ := net.SplitHostPort(a)
		ports[i], _ = strconv.Atoi(p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		kc, err := kfake.NewCluster(append(slices.Clone(c.opts), kfake.Ports(ports...))...)
		if err == nil {
			c.Cluster = kc
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart on ports %v: %v", ports, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// produce writes n records, keys drawn from a skewed set, dealt to the
// partitions in turn, and remembers them.
func (c *cluster) produce(t testing.TB, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	c.in.mu.Lock()
	for i := range recs {
		c.seq++
		key := "u" + strconv.Itoa((c.seq*7919)%(1+c.seq%500))
		if c.key != nil {
			key = c.key(c.seq)
		}
		p := int32(c.seq % testPartitions)
		recs[i] = &kgo.Record{Topic: testTopic, Partition: p, Value: []byte(key)}
		c.in.parts[p] = append(c.in.parts[p], key)
	}
	c.in.mu.Unlock()
	if err := c.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) config(opts ...kgo.Opt) Config {
	return Config{
		Brokers:        c.addrs,
		Topic:          testTopic,
		Group:          testGroup,
		New:            newExactOp,
		Interval:       200 * time.Millisecond,
		SessionTimeout: testSession,
		Timeout:        10 * time.Second,
		Opts:           opts,
	}
}

// running is a worker running in the background.
type running struct {
	w      *Worker
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, cfg Config) *running {
	t.Helper()
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t, false) })
	started = append(started, r)
	return r
}

// stop cancels the worker and waits for Run; with check, Run must have
// returned nil.
func (r *running) stop(t testing.TB, check bool) {
	t.Helper()
	if r.done == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if check && err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("Run did not return 30 s after its context was cancelled")
	}
	r.done = nil
}

// waitCommitted waits until every partition's latest snapshot is at the
// end of what was produced, and returns the snapshots.
func (c *cluster) waitCommitted(t *testing.T, within time.Duration) []Snapshot {
	t.Helper()
	ends := c.in.ends()
	deadline := time.Now().Add(within)
	var last []Snapshot
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		snaps, err := ReadSnapshots(ctx, ReadConfig{Brokers: c.addrs, Group: testGroup})
		cancel()
		if err == nil {
			last = snaps
			ok := len(snaps) == testPartitions
			for _, s := range snaps {
				ok = ok && s.Offset == ends[s.Partition]
			}
			if ok {
				return snaps
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ws string
	for _, r := range started {
		ws += fmt.Sprintf("\n\tworker %+v", r.w.Stats())
		select {
		case err := <-r.done:
			ws += fmt.Sprintf(" stopped: %v", err)
			r.done <- err
		default:
		}
	}
	t.Fatalf("snapshots did not reach the input's end offsets %v within %v; last: %v%s", ends, within, describe(last), ws)
	return nil
}

func describe(snaps []Snapshot) string {
	s := ""
	for _, x := range snaps {
		s += fmt.Sprintf(" p%d@%d", x.Partition, x.Offset)
	}
	return s
}

// checkFinal checks the merged state of the group against the input: per
// partition, exact counters; merged, the HLL of one process over every
// record, byte for byte.
func (c *cluster) checkFinal(t *testing.T, snaps []Snapshot) {
	t.Helper()
	for _, s := range snaps {
		want := c.in.exact(s.Partition, s.Offset)
		var got exactOp
		if err := got.UnmarshalBinary(s.State); err != nil {
			t.Fatalf("partition %d: %v", s.Partition, err)
		}
		if !maps.Equal(got.counts, want.counts) {
			t.Errorf("partition %d at offset %d: counts differ from the input's", s.Partition, s.Offset)
		}
		if s.Records+s.Shed+s.Skipped != uint64(s.Offset) {
			t.Errorf("partition %d at offset %d: records %d + shed %d + skipped %d", s.Partition, s.Offset, s.Records, s.Shed, s.Skipped)
		}
	}
	var merged exactOp
	if _, err := Merge(context.Background(), ReadConfig{Brokers: c.addrs, Group: testGroup}, &merged); err != nil {
		t.Fatal(err)
	}
	want := c.in.all()
	if !maps.Equal(merged.counts, want.counts) {
		t.Errorf("merged counts differ from the input's")
	}
	gb, _ := merged.hll.MarshalBinary()
	wb, _ := want.hll.MarshalBinary()
	if string(gb) != string(wb) {
		t.Errorf("merged HLL differs from one process's over the same records (estimates %v, %v)", merged.hll.Estimate(), want.hll.Estimate())
	}
}

// checkAllSnapshots reads every committed snapshot ever written to the
// checkpoint topic and checks each equals the exact state at its offset.
func (c *cluster) checkAllSnapshots(t *testing.T) int {
	t.Helper()
	chunks := map[int32]map[uint32]chunk{}
	checked := 0
	c.readCheckpointTopic(t, 20*time.Second, true, func(r *kgo.Record) {
		switch {
		case r.Attrs.IsControl():
		case isChunk(r.Value):
			ch, err := decodeChunk(slices.Clone(r.Value))
			if err != nil {
				t.Fatal(err)
			}
			if chunks[r.Partition] == nil {
				chunks[r.Partition] = map[uint32]chunk{}
			}
			chunks[r.Partition][ch.index] = ch
		case isManifest(r.Value):
			m, err := decodeManifest(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			s, err := assemble(m, chunks[r.Partition])
			if err != nil {
				t.Fatal(err)
			}
			var got exactOp
			if err := got.UnmarshalBinary(s.State); err != nil {
				t.Fatal(err)
			}
			if w := c.in.exact(s.Partition, s.Offset); !maps.Equal(got.counts, w.counts) {
				t.Errorf("committed snapshot of partition %d at offset %d differs from the exact state there", s.Partition, s.Offset)
			}
			if s.Records+s.Shed+s.Skipped != uint64(s.Offset) {
				t.Errorf("committed snapshot of partition %d at offset %d counts %d records", s.Partition, s.Offset, s.Records+s.Shed+s.Skipped)
			}
			checked++
		}
	})
	return checked
}

// readCheckpointTopic calls each with every record of the checkpoint
// topic, control markers included, from the start to its end: the last
// stable offsets, read_committed, if committed, or else the end offsets,
// every record. It fails t after timeout.
func (c *cluster) readCheckpointTopic(t *testing.T, timeout time.Duration, committed bool, each func(*kgo.Record)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	topic := DefaultCheckpointTopic(testGroup)
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(c.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	list := adm.ListEndOffsets
	opts := []kgo.Opt{kgo.SeedBrokers(c.addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords()}
	if committed {
		list = adm.ListCommittedOffsets
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	ends, err := list(ctx, topic)
	adm.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset - 1
		}
	})
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading the checkpoint topic: %v (left %v)", ctx.Err(), want)
		}
		for _, r := range fs.Records() {
			if r.Offset >= want[r.Partition] {
				delete(want, r.Partition)
			}
			each(r)
		}
	}
}

// cutDialer dials normally until cut, then closes every connection it
// made and refuses new ones: a process that vanished from the network
// without leaving its group.
type cutDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (d *cutDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, errors.New("cut")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cutDialer) cutAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for _, c := range d.conns {
		c.Close()
	}
}

type netListenConfig struct{}

// listenClosed returns a loopback address nothing listens on.
func (netListenConfig) listenClosed() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}
