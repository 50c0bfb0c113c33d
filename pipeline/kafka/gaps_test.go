package kafka

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaTransactionalInput: input written in transactions has offsets
// taken by transaction markers (and by aborted records, never read). A
// strict worker stops with ErrOffsetGap rather than guess; one with
// AllowOffsetGaps counts exactly the committed records.
func TestKafkaTransactionalInput(t *testing.T) {
	c := newCluster(t)
	tp, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.TransactionalID("input"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ctx := context.Background()
	want := map[string]uint64{}
	var committed uint64
	for txn := range 6 {
		if err := tp.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		abort := txn%3 == 1
		for i := range 300 {
			key := "k" + strconv.Itoa((txn*300+i)%97)
			tp.Produce(ctx, &kgo.Record{Topic: testTopic, Partition: int32(i % testPartitions), Value: []byte(key)}, nil)
			if !abort {
				want[key]++
				committed++
			}
		}
		if err := tp.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tp.EndTransaction(ctx, kgo.TransactionEndTry(!abort)); err != nil {
			t.Fatal(err)
		}
	}

	strict, err := NewWorker(c.config())
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := strict.Run(rctx); !errors.Is(err, ErrOffsetGap) {
		t.Fatalf("strict worker on transactional input: %v, want ErrOffsetGap", err)
	}

	cfg := c.config()
	cfg.Group = "gaps"
	cfg.AllowOffsetGaps = true
	r := start(t, cfg)
	// The last offset of each partition is a transaction marker, which
	// no record follows: the committed offset stops before it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		snaps, err := ReadSnapshots(ctx, ReadConfig{Brokers: c.addrs, Group: "gaps"})
		var records uint64
		for _, s := range snaps {
			records += s.Records
		}
		if err == nil && records == committed {
			break
		}
		if time.Now().After(deadline) || records > committed {
			t.Fatalf("snapshots %v count %d records, %d committed (err %v)", describe(snaps), records, committed, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop(t, true)
	var merged exactOp
	if _, err := Merge(ctx, ReadConfig{Brokers: c.addrs, Group: "gaps"}, &merged); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(merged.counts, want) {
		t.Errorf("merged counts differ from the committed input's")
	}
}
