package flowcontrol_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/streamstat/streamstat/flowcontrol"
)

// Words is a batch of records in a reusable buffer.
type Words struct{ w []string }

func (b *Words) Len() int { return len(b.w) }

func ExampleGate() {
	// One input, 2 exclusive buffers, no floating ones: at most 2 batches
	// are ever in flight, however fast the producer.
	g, err := flowcontrol.NewGate(flowcontrol.Config{Exclusive: 2, Floating: -1},
		func() *Words { return &Words{w: make([]string, 0, 4)} })
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	go func(s *flowcontrol.Sender[*Words]) {
		defer s.Close()
		text := "the quick brown fox jumps over the lazy dog"
		b, err := s.Acquire(ctx) // an empty buffer: a credit
		if err != nil {
			return
		}
		for _, w := range strings.Fields(text) {
			b.w = append(b.w, w)
			if len(b.w) == cap(b.w) {
				if s.Send(ctx, b) != nil { // waits while the receiver lags
					return
				}
				b, _ = s.Acquire(ctx) // the buffer Send obtained
				b.w = b.w[:0]         // recycled buffers come back dirty
			}
		}
		if len(b.w) > 0 {
			s.Send(ctx, b)
		}
	}(g.Sender(0))

	for {
		b, input, err := g.Recv(ctx)
		if errors.Is(err, flowcontrol.ErrClosed) {
			break
		}
		fmt.Println(input, b.w)
		g.Release(input, b) // the buffer becomes a credit again
	}
	st := g.InputStats(0)
	fmt.Printf("%d batches, %d records\n", st.Batches, st.Records)
	// Output:
	// 0 [the quick brown fox]
	// 0 [jumps over the lazy]
	// 0 [dog]
	// 3 batches, 9 records
}
