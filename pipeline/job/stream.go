package job

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/streamstat/streamstat/pipeline"
)

// Defaults for reading streams.
const (
	// defaultChunk is the size of the chunks a stream is dealt to the
	// workers in: large enough that dealing costs nothing per record,
	// small enough that every worker gets work early.
	defaultChunk = 1 << 20
	// defaultReadBuf is the size of one read from a stream. A pipe
	// rarely returns more than 64 KiB per read.
	defaultReadBuf = 256 << 10
	// streamBuffers bounds the read buffers in flight per stream, so the
	// memory a stream holds is bounded (streamBuffers * defaultReadBuf)
	// however far the reader is ahead of the workers. With few workers
	// the bound is lower, buffersPerWorker a worker and minBuffers at
	// least: bytes read far ahead have left the cache by the time a
	// worker reads them (cat FILE | streamstat distinct -j 2 took 4-6%
	// more CPU with 16 buffers than with 6). It is never less than
	// workers+2 (see poolSize).
	streamBuffers    = 16
	buffersPerWorker = 2
	minBuffers       = 6
)

// stream deals a non-seekable input (stdin, a pipe) to the workers. One
// goroutine reads it and cuts it into chunks at fixed offsets: chunk j
// starts just past the end of chunk j-1 and ends at the first newline at
// or after offset start+size-1 (or at EOF), so the cuts depend only on the
// bytes, never on how reads happened to return them. With CSV framing a
// chunk ends at a record end instead (a newline after an even number of
// quotes since the start of the stream: pipeline.RecordEnds), so that no
// chunk starts inside a quoted field; with FrameCSVHeader the header (the
// first record that is not a blank line) is dropped before dealing, since
// every worker's view starts at its own offset 0. A worker's view of
// the stream is the concatenation of the chunks it takes, which, chunks
// ending on newlines, is itself a stream of whole lines for a LineSource.
//
// With static dealing, chunk j goes to worker j mod W, so each worker sees
// the same records in the same order on every run, which order-sensitive
// sketches (TopK, conservative CountMin, KLL) need for deterministic
// answers. With dynamic dealing (order-insensitive sketches: HLL), any idle
// worker takes the next chunk, which balances load on a busy machine.
//
// The reader never waits for a chunk to fill: each read is handed on at
// once, as pieces of the chunks it overlaps, so a slow stream's lines reach
// the workers as they come.
type stream struct {
	name    string
	r       io.Reader
	size    int64 // chunk size
	workers int
	dynamic bool
	framing pipeline.Framing
	queues  []chan *chunk // one per worker, or one shared when dynamic
	// pool holds the read buffers not in use; made counts those made so
	// far (by the reading goroutine, as it needs them, up to the pool's
	// capacity), of bufSize bytes.
	pool    chan *readBuf
	made    int
	bufSize int
	once    sync.Once
	err     error        // the read error, set before the queues close
	read    atomic.Int64 // bytes read so far
	// layers are the dealings the stream was read in before a resumed
	// checkpoint changed the number of workers, oldest first: the bytes
	// their workers counted are dropped (see filter) before dealing.
	layers []layer
	// sized: the chunk size was set from a restored state.
	sized bool
	// verify counts the layers' checks as they pass (see verify.go).
	verify *verification
}

// chunk is one chunk on its way to a worker: its pieces, in order; the
// channel is closed after the last.
type chunk struct {
	pieces chan piece
	start  int64 // the stream offset of its first byte
}

// piece is a run of bytes of one chunk, aliasing a read buffer.
type piece struct {
	buf  *readBuf
	data []byte
}

// readBuf is a read buffer shared by the pieces cut from it; the last to
// be consumed returns it to the pool.
type readBuf struct {
	b    []byte
	refs atomic.Int32
	pool chan *readBuf
}

func (b *readBuf) release() {
	if b.refs.Add(-1) == 0 {
		b.pool <- b // never blocks: the pool can hold every buffer made
	}
}

func newStream(name string, r io.Reader, workers int, dynamic bool, chunkSize int64, bufSize int, framing pipeline.Framing) *stream {
	if chunkSize < 2 {
		chunkSize = defaultChunk
	}
	if bufSize < 1 {
		bufSize = defaultReadBuf
	}
	s := &stream{name: name, r: r, size: chunkSize, workers: workers, dynamic: dynamic, framing: framing, bufSize: bufSize}
	nq := workers
	if dynamic {
		nq = 1
	}
	for range nq {
		s.queues = append(s.queues, make(chan *chunk, 4))
	}
	s.pool = make(chan *readBuf, poolSize(workers))
	return s
}

// poolSize is the most read buffers a stream of w workers makes: 2 a
// worker plus 2, at least minBuffers and at most streamBuffers, but never
// fewer than w+2. A worker whose last Fill came up short waits for the
// stream's next bytes (so that a checkpoint can wake it) still holding
// the buffer its source borrowed (a loan ends at the next Lend or Read),
// so w waiting workers can hold w buffers; with no more in the pool, the
// reader had none to read into and the run hung (cat FILE | streamstat
// distinct -j 16, or -j 0 on 16 CPUs). With many workers a stream may
// so hold (w+2) x the read size: 16.5 MiB at -j 64.
func poolSize(w int) int {
	return max(w+2, min(streamBuffers, max(minBuffers, buffersPerWorker*w+2)))
}

// buffer returns a free read buffer: one from the pool, or a new one while
// fewer than the pool holds have been made, or else the next one returned
// to the pool. The buffers are made as the reader needs them, not all at
// once: a short input (echo x | streamstat) then allocates one, where the
// 4 MiB made up front by every run on stdin cost a garbage collection at
// its start (the heap's first goal is 4 MiB) and a thousand page faults.
// It returns nil when ctx is done.
func (s *stream) buffer(ctx context.Context) *readBuf {
	if ctx.Err() != nil {
		return nil
	}
	select {
	case buf := <-s.pool:
		return buf
	default:
	}
	if s.made < cap(s.pool) {
		s.made++
		return &readBuf{b: make([]byte, s.bufSize), pool: s.pool}
	}
	select {
	case buf := <-s.pool:
		return buf
	case <-ctx.Done():
		return nil
	}
}

// start starts the reading goroutine, once. It stops at EOF, at a read
// error, or when ctx is done (a read in progress cannot be interrupted:
// the goroutine then ends after it returns).
func (s *stream) start(ctx context.Context) {
	s.once.Do(func() { go s.run(ctx) })
}

// queue returns the queue worker w takes chunks from.
func (s *stream) queue(w int) <-chan *chunk {
	if s.dynamic {
		return s.queues[0]
	}
	return s.queues[w]
}

func (s *stream) run(ctx context.Context) {
	growPipe(s.r)
	var (
		cur    *chunk
		cuts   []cut
		segs   [][]byte
		header = s.framing == pipeline.FrameCSVHeader // dropping the header
		blank  = true                                 // the header record so far is blank
	)
	framing := dealtFraming(s.framing)
	hdr := pipeline.NewRecordEnds(framing)
	ch := newChunker(s.size, framing)
	filters := make([]*filter, len(s.layers))
	for i, l := range s.layers {
		filters[i] = newFilter(l, framing, s.verify)
	}
	defer func() {
		if cur != nil {
			close(cur.pieces)
		}
		for _, q := range s.queues {
			close(q)
		}
	}()
	for {
		buf := s.buffer(ctx)
		if buf == nil {
			return
		}
		n, err := s.r.Read(buf.b)
		if n < 0 || n > len(buf.b) {
			n, err = 0, errors.New("reader returned an impossible count")
		}
		base := s.read.Add(int64(n)) - int64(n) // the stream offset of buf.b[0]
		data := buf.b[:n]
		for header && len(data) > 0 {
			i := hdr.Next(data)
			rec := data
			if i >= 0 {
				rec = data[:i]
			}
			blank = blank && isBlank(rec)
			if i < 0 {
				data = nil
				break
			}
			data = data[i:]
			header = blank // a blank line is no header: go on
		}
		// The bytes of earlier dealings that their workers counted go;
		// the rest is dealt now.
		segs = append(segs[:0], data)
		var ferr error
		for _, f := range filters {
			if segs, ferr = f.apply(segs); ferr != nil {
				break
			}
		}
		if ferr == nil && err != nil {
			for _, f := range filters {
				if ferr = f.end(); ferr != nil {
					break
				}
			}
		}
		if ferr != nil {
			s.pool <- buf
			s.err = ferr
			return
		}
		cuts = cuts[:0]
		for _, seg := range segs {
			cuts = ch.cut(seg, cuts)
		}
		buf.refs.Store(int32(len(cuts)))
		if len(cuts) == 0 {
			s.pool <- buf
		}
		for _, c := range cuts {
			if cur == nil {
				// The stream offset of the chunk's first byte: its data
				// is a slice of buf.b.
				cur = &chunk{pieces: make(chan piece, 8), start: base + int64(cap(buf.b)-cap(c.data))}
				q := s.queues[0]
				if !s.dynamic {
					q = s.queues[ch.j%s.workers]
				}
				select {
				case q <- cur:
				case <-ctx.Done():
					return
				}
			}
			select {
			case cur.pieces <- piece{buf: buf, data: c.data}:
			case <-ctx.Done():
				return
			}
			if c.last {
				close(cur.pieces)
				cur = nil
				ch.j++
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.err = err
			}
			return
		}
	}
}

// dealtFraming is the framing chunks are cut in: a CSV header is gone
// before dealing.
func dealtFraming(f pipeline.Framing) pipeline.Framing {
	if f == pipeline.FrameCSVHeader {
		return pipeline.FrameCSV
	}
	return f
}

// chunker cuts a stream into chunks (see stream): chunk j starts just
// past the end of chunk j-1 and ends at the first record end at or after
// its offset size-1.
type chunker struct {
	size    int64
	need    int64 // bytes before the end search starts
	seeking bool  // looking for the record end that ends the chunk
	ends    *pipeline.RecordEnds
	j       int // index of the current chunk
}

func newChunker(size int64, framing pipeline.Framing) *chunker {
	return &chunker{size: size, need: size - 1, ends: pipeline.NewRecordEnds(framing)}
}

// cut is a run of bytes of the current chunk, which ends with it if last.
type cut struct {
	data []byte
	last bool
}

// cut appends the pieces of data, the stream's next bytes, to cuts.
func (c *chunker) cut(data []byte, cuts []cut) []cut {
	from := 0
	for p := 0; p < len(data); {
		if !c.seeking {
			k := int(min(c.need, int64(len(data)-p)))
			c.ends.Pass(data[p : p+k])
			p += k
			if c.need -= int64(k); c.need == 0 {
				c.seeking = true
			}
			continue
		}
		i := c.ends.Next(data[p:])
		if i < 0 {
			break
		}
		p += i
		cuts = append(cuts, cut{data[from:p], true})
		from = p
		c.seeking, c.need = false, c.size-1
	}
	if from < len(data) {
		cuts = append(cuts, cut{data[from:], false})
	}
	return cuts
}

// isBlank reports whether b holds only line ends (CR, LF).
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// chunkReader is one worker's view of a stream: the concatenation of the
// chunks it takes from its queue. Read blocks until bytes come, the stream
// ends (io.EOF, or the stream's read error) or ctx is done.
type chunkReader struct {
	ctx   context.Context
	s     *stream
	queue <-chan *chunk
	cur   *chunk
	p     piece
	off   int
	// view counts the bytes Read has returned; marks maps offsets of the
	// view to offsets of the stream: one per chunk taken, from the first
	// one a source may still report on (see prune).
	view  int64
	marks []mark
	// lent is the read buffer of the piece Lend returned last, released
	// at the next Lend or Read.
	lent *readBuf
}

// mark says that the view's byte view is the stream's byte stream, the
// first of a chunk.
type mark struct{ view, stream int64 }

// streamOffset returns the stream offset of the view's byte v (v at or
// past the first mark kept).
func (c *chunkReader) streamOffset(v int64) int64 {
	for i := len(c.marks) - 1; i >= 0; i-- {
		if m := c.marks[i]; m.view <= v {
			return m.stream + v - m.view
		}
	}
	return v
}

// prune drops the marks of chunks that end at or before view offset v.
func (c *chunkReader) prune(v int64) {
	i := 0
	for i+1 < len(c.marks) && c.marks[i+1].view <= v {
		i++
	}
	c.marks = c.marks[i:]
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := c.ready(); err != nil {
		return 0, err
	}
	n := copy(b, c.p.data[c.off:])
	c.off += n
	c.view += int64(n)
	if c.off == len(c.p.data) {
		c.p.buf.release()
		c.p, c.off = piece{}, 0
	}
	return n, nil
}

// Lend implements pipeline.Lender: the rest of the current piece, in its
// read buffer, which goes back to the stream's pool at the next Lend or
// Read. A LineSource so reads the stream's bytes where the stream read
// them: the copy into its own buffer was a tenth of the CPU of
// cat FILE | streamstat distinct, cat's included.
func (c *chunkReader) Lend() ([]byte, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	p := c.p.data[c.off:]
	c.view += int64(len(p))
	c.lent = c.p.buf
	c.p, c.off = piece{}, 0
	return p, nil
}

// ready releases the last loan and waits until c.p holds bytes (nil), or
// returns what Read and Lend return instead: io.EOF at the stream's end,
// its read error, or ctx's.
func (c *chunkReader) ready() error {
	c.endLoan()
	switch c.await(nil) { // a nil channel never fires: wait as long as it takes
	case evEnd:
		if c.s.err != nil {
			return c.s.err
		}
		return io.EOF
	case evDone:
		return c.ctx.Err()
	}
	return nil
}

// endLoan releases the piece Lend returned last.
func (c *chunkReader) endLoan() {
	if c.lent != nil {
		c.lent.release()
		c.lent = nil
	}
}

// wait blocks until a Read would not block (bytes have come, the stream
// ended, or ctx is done) or until wake fires; it reports whether Read is
// ready. It lets a worker on a quiet stream return when woken, so that
// checkpoint barriers get through.
func (c *chunkReader) wait(wake <-chan struct{}) bool {
	return c.await(wake) != evExpired
}

// event is what await saw.
type event int

const (
	evBytes   event = iota // c.p holds bytes
	evEnd                  // the stream ended
	evDone                 // the context is done
	evExpired              // woken
)

// await takes pieces from the worker's chunks until c.p holds bytes, the
// stream ends, ctx is done or expired fires.
func (c *chunkReader) await(expired <-chan struct{}) event {
	for c.p.buf == nil {
		if c.cur == nil {
			select {
			case ch, ok := <-c.queue:
				if !ok {
					return evEnd
				}
				c.cur = ch
				c.marks = append(c.marks, mark{view: c.view, stream: ch.start})
			case <-c.ctx.Done():
				return evDone
			case <-expired:
				return evExpired
			}
			continue
		}
		select {
		case p, ok := <-c.cur.pieces:
			if ok {
				c.p, c.off = p, 0
			} else {
				c.cur = nil
			}
		case <-c.ctx.Done():
			return evDone
		case <-expired:
			return evExpired
		}
	}
	return evBytes
}
