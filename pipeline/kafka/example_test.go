package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/kafka"
)

// A worker counts distinct users per partition of a topic on an in-process
// three-broker cluster, checkpointing in transactions; Merge then reads
// the group's latest snapshots and merges them into the global answer.
func ExampleWorker() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(6, "clicks"))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		panic(err)
	}
	for i := range 1000 {
		user := []byte("user" + strconv.Itoa(i%300))
		prod.Produce(context.Background(), &kgo.Record{Topic: "clicks", Key: user, Value: user}, nil)
	}
	if err := prod.Flush(context.Background()); err != nil {
		panic(err)
	}
	prod.Close()

	w, err := kafka.NewWorker(kafka.Config{
		Brokers: brokers, Topic: "clicks", Group: "distinct-users",
		New:            func(int32) (pipeline.Mergeable, error) { return &pipeline.Distinct{}, nil },
		Interval:       100 * time.Millisecond,
		SessionTimeout: 6 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for w.Stats().Records < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // the last checkpoint commits, and the worker leaves the group
	if err := <-done; err != nil {
		panic(err)
	}

	var users pipeline.Distinct
	snaps, err := kafka.Merge(context.Background(), kafka.ReadConfig{Brokers: brokers, Group: "distinct-users"}, &users)
	if err != nil {
		panic(err)
	}
	var records uint64
	for _, s := range snaps {
		records += s.Records
	}
	fmt.Printf("%d partitions, %d records, about %.0f distinct users\n", len(snaps), records, users.HLL.Estimate().Value)
	// Output: 6 partitions, 1000 records, about 300 distinct users
}
