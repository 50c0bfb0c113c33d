// Command kafka starts a Kafka cluster on loopback ports (three kfake
// brokers, in this process), fills an input topic with a Zipf clickstream,
// writes the exact answers for that stream beside it, and keeps the cluster
// up until interrupted, so that several `streamstat ... --kafka-brokers`
// workers can share the topic as one consumer group. See README.md for the
// walk through: start workers, kill one with SIGKILL, start another, and
// compare the group's merged answer with the truth.
//
//	go run ./examples/kafka -data /tmp/kafka-demo           # serve (Ctrl-C stops)
//	go run ./examples/kafka check -truth /tmp/kafka-demo/truth.json < answer.json
//
// A record's value is one line, "user-N /page/M LATENCY": the user is the
// record's key too, and picks its partition (xxhash of the key modulo the
// partitions), so every click of a user is in one partition. Record i
// depends only on -seed and i (pipeline.Generator), so the truth is
// computed from the stream, not from the topic.
//
// With -data DIR the cluster keeps its state there (kfake.DataDir): topics,
// records, consumer groups, committed offsets and streamstat's checkpoint
// topic survive a restart of this program. A restart goes on producing
// where the last run stopped: partition p already holding h records skips
// the first h records that belong to it (an idempotent producer writes
// each partition in order, so what a partition holds is a prefix of its
// records).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(runCheck(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if err := serve(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		os.Exit(1)
	}
}

// options are the flags of serve.
type options struct {
	ports      []int
	dataDir    string
	topic      string
	partitions int
	records    int64
	users      uint64
	pages      uint64
	s          float64
	seed       uint64
	rate       float64
	truth      string // the truth file; "" means truth.json in dataDir or the working directory
	top        int
	sessionMin time.Duration
	// started, if set (by tests), is called once the brokers listen.
	started func(addrs []string)
	// ready, if set (by tests), is called once the topic holds the
	// stream, or production was interrupted.
	ready func(addrs []string, st produceStats)
	// progress, if set (by tests), is called as records are produced,
	// with the number produced so far.
	progress func(produced int64)
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := new(options)
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ports := fs.String("ports", "9092,9093,9094", "the brokers' loopback ports, one per broker (0 picks a free one)")
	fs.StringVar(&o.dataDir, "data", "", "keep the cluster's state in this directory, so that it survives a restart")
	fs.StringVar(&o.topic, "topic", "clicks", "the input topic")
	fs.IntVar(&o.partitions, "partitions", 6, "the input topic's partitions (when this run creates it)")
	fs.Int64Var(&o.records, "n", 1_000_000, "records to produce")
	fs.Uint64Var(&o.users, "users", 200_000, "distinct users in the Zipf law")
	fs.Uint64Var(&o.pages, "pages", 1000, "distinct pages in the Zipf law")
	fs.Float64Var(&o.s, "s", 1.1, "Zipf exponent, > 1")
	fs.Uint64Var(&o.seed, "seed", 1, "the stream's seed")
	fs.Float64Var(&o.rate, "rate", 0, "records per second (0: as fast as the brokers take them)")
	fs.StringVar(&o.truth, "truth", "", "write the exact answers here (default truth.json in -data, or in the working directory)")
	fs.IntVar(&o.top, "top", 20, "top users listed in the truth file")
	fs.DurationVar(&o.sessionMin, "min-session-timeout", time.Second, "the brokers' smallest group session timeout (short, so that a killed worker's partitions move on soon)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kafka: unexpected argument %q (check is the only subcommand)\n", fs.Arg(0))
		return nil, errors.New("usage")
	}
	for _, p := range strings.Split(*ports, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 65535 {
			fmt.Fprintf(stderr, "kafka: -ports %q: give port numbers separated by commas (0 picks a free one)\n", *ports)
			return nil, errors.New("usage")
		}
		o.ports = append(o.ports, n)
	}
	switch {
	case o.partitions < 1 || o.partitions > 1000:
		fmt.Fprintf(stderr, "kafka: -partitions %d: use 1 to 1000\n", o.partitions)
		return nil, errors.New("usage")
	case o.records < 0 || o.users < 1 || o.pages < 1 || !(o.s > 1) || o.rate < 0 || o.top < 1:
		fmt.Fprintln(stderr, "kafka: -n must be >= 0, -users and -pages >= 1, -s > 1, -rate >= 0, -top >= 1")
		return nil, errors.New("usage")
	}
	if o.truth == "" {
		o.truth = filepath.Join(o.dataDir, "truth.json")
	}
	return o, nil
}

// serve starts the cluster, writes the truth, produces what the topic does
// not hold yet, and waits for ctx; then it closes the cluster (which, with
// -data, saves its state).
func serve(ctx context.Context, o *options, stdout io.Writer) error {
	c, err := startCluster(o)
	if err != nil {
		return err
	}
	defer c.close()
	fmt.Fprintf(stdout, "brokers %s\n", strings.Join(c.addrs, ","))
	if o.started != nil {
		o.started(c.addrs)
	}
	parts, err := c.partitions(ctx, o.topic)
	if err != nil {
		return err
	}
	t, err := computeTruth(o, parts)
	if err != nil {
		return err
	}
	if err := t.write(o.truth); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "truth %s: %d records, %d distinct users\n", o.truth, t.Records, t.Distinct)
	start := time.Now()
	st, err := c.produce(ctx, o, t)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "topic %s: %d partitions, %d records (%d produced now in %v); Ctrl-C stops the brokers\n",
		o.topic, st.partitions, st.total, st.produced, time.Since(start).Round(time.Millisecond))
	if o.ready != nil {
		o.ready(c.addrs, st)
	}
	<-ctx.Done()
	return nil
}
