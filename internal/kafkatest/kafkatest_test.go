package kafkatest_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaTestRestartKeepsRecords: records produced before a restart on
// the data directory are all read back after it, each from the partition
// PartitionOf names.
func TestKafkaTestRestartKeepsRecords(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config{Topics: []string{"in"}, DataDir: t.TempDir()})
	if n := len(c.Addrs()); n != kafkatest.DefaultBrokers {
		t.Fatalf("%d brokers, want %d", n, kafkatest.DefaultBrokers)
	}
	var lines []string
	for i := range 500 {
		lines = append(lines, fmt.Sprintf("user-%d /page/%d", i%37, i))
	}
	per := c.ProduceLines(t, "in", lines)
	c.Restart(t)

	cl := c.Client(t, kgo.ConsumeTopics("in"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make([]int64, len(per))
	seen := make(map[string]bool)
	for n := 0; n < len(lines); {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records back: %v", n, len(lines), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := kafkatest.PartitionOf(string(r.Key), len(per)); r.Partition != want {
				t.Errorf("%q in partition %d, want %d", r.Value, r.Partition, want)
			}
			got[r.Partition]++
			seen[string(r.Value)] = true
			n++
		})
	}
	if fmt.Sprint(got) != fmt.Sprint(per) || len(seen) != len(lines) {
		t.Errorf("read back %v per partition (%d distinct lines), produced %v (%d)", got, len(seen), per, len(lines))
	}
}

// TestKafkaTestClosedAddrRefuses: nothing listens at ClosedAddr.
func TestKafkaTestClosedAddrRefuses(t *testing.T) {
	addr := kafkatest.ClosedAddr(t)
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s accepted a connection", addr)
	}
}
