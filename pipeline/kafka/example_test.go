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

// A pipeline reads every partition of a topic with two Sources, each
// chained to its own Distinct, and stops at the topic's end; the answer
// merges the two instances.
func ExampleSource() {
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

	srcs, err := kafka.Sources(context.Background(), kafka.SourceConfig{Brokers: brokers, Topic: "clicks", StopAtEnd: true}, 2)
	if err != nil {
		panic(err)
	}
	defer func() {
		for _, s := range srcs {
			s.(*kafka.Source).Close()
		}
	}()
	p, err := pipeline.New(srcs, []pipeline.Stage{{
		Name: "users", Parallelism: 2,
		New: func(int) (pipeline.Operator, error) { return &pipeline.Distinct{}, nil },
	}}, pipeline.Config{})
	if err != nil {
		panic(err)
	}
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	var users pipeline.Distinct
	_ = p.Query(0, func(_ int, op pipeline.Operator) error {
		b, err := op.(*pipeline.Distinct).MarshalBinary()
		if err != nil {
			return err
		}
		return users.MergeBinary(b)
	})
	fmt.Printf("about %.0f distinct users\n", users.HLL.Estimate().Value)
	// Output: about 300 distinct users
}
