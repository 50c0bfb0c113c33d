package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/kafka"
)

// testHookKafkaWorker, if set (by tests), is called with each Kafka
// worker before it runs.
var testHookKafkaWorker func(w *kafka.Worker)

// runKafka runs subcommand c with the --kafka-* flags: merge reads the
// group's answer (runKafkaMerge), the others run as one worker of the
// group until ctx is done.
func runKafka(ctx context.Context, e *env, c *command, o *options, fs *flag.FlagSet, args, pos []string) int {
	if c.name == "merge" {
		return runKafkaMerge(ctx, e, o, fs, pos)
	}
	if err := kafkaConflicts(c.name, o, fs, pos); err != nil {
		return usage(e, c.name, err)
	}
	s, err := kafkaSpec(e, c, o, pos)
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return fail(e, err)
		}
		return usage(e, c.name, err)
	}
	if len(s.args) > 0 { // freq's files, after --key
		return usage(e, c.name, usagef("%s: the input is the Kafka topic %s: give no FILE", s.args[0], o.kafka.topic))
	}
	ex, err := kafkaExtractor(s)
	if err != nil {
		return usage(e, c.name, err)
	}
	id := kafkaIdentity(c.name, fs, args)
	k := &o.kafka
	var newShedder func(int32) (pipeline.Shedder, error)
	if s.shed != nil {
		s.shed.cost = e.opCost
		newShedder = func(p int32) (pipeline.Shedder, error) { return kafkaShedder(s, p) }
	}
	w, err := kafka.NewWorker(kafka.Config{
		Brokers: k.addrs, Topic: k.topic, Group: k.group,
		New: func(p int32) (pipeline.Mergeable, error) {
			return newKafkaOp(s, id, p)
		},
		Extract:        ex,
		NewShedder:     newShedder,
		SessionTimeout: k.session,
		Timeout:        kafkaTimeout,
		Logf: func(format string, a ...any) {
			fmt.Fprintf(e.stderr, "streamstat: kafka: %s\n", oneLine(fmt.Sprintf(format, a...)))
		},
	})
	if err != nil {
		return fail(e, kafkaError(k, err))
	}
	if testHookKafkaWorker != nil {
		testHookKafkaWorker(w)
	}
	// Under --shed an answer reads the shedders' summaries of the
	// partitions it covers: each answer gets a spec of its own, whose
	// shedding group holds their states.
	answerSpec := func() (*spec, error) { return s, nil }
	if s.shed != nil {
		answerSpec = func() (*spec, error) { return kafkaSpec(e, c, o, pos) }
	}
	return runKafkaWorker(ctx, e, s, w, answerSpec)
}

// kafkaSpec sets up the run of c as for a stream, with the key's
// extractor.
func kafkaSpec(e *env, c *command, o *options, pos []string) (*spec, error) {
	s, err := c.setup(e, o, pos)
	if err != nil {
		return nil, err
	}
	if err := applyStructured(e, o, s); err != nil {
		return nil, err
	}
	return s, nil
}

// runKafkaWorker runs worker w of s until ctx is done, writing the answer
// of the partitions it owns at every --interval and at the end.
func runKafkaWorker(ctx context.Context, e *env, s *spec, w *kafka.Worker, answerSpec func() (*spec, error)) int {
	out := s.out
	if out == nil {
		out = e.stdout
	}
	rep := newReporter(e, out, s.opts.format, s.opts.interval > 0)
	snapshot := func() (aggregate, counts, []int32, error) {
		as, err := answerSpec()
		if err != nil {
			return nil, counts{}, nil, err
		}
		a := as.newAgg()
		var c counts
		var owned []int32
		err = w.Query(func(parts []kafka.PartitionState) error {
			for _, p := range parts {
				state, err := shedStateOf(p.Shedder)
				if err == nil {
					err = addShedState(as, p.Partition, state)
				}
				if err == nil {
					err = a.addOp(p.Op.(*kafkaOp).op())
				}
				if err != nil {
					return err
				}
				c.add(counts{Records: p.Records, Skipped: p.Skipped, Shed: p.Shed})
				owned = append(owned, p.Partition)
			}
			return nil
		})
		return a, c, owned, err
	}
	if s.opts.http != "" {
		stop, err := startKafkaWeb(e, s, w, func() (any, error) {
			a, c, _, err := snapshot()
			if err != nil {
				return nil, err
			}
			return a.result(c).JSON, nil
		})
		if err != nil {
			return fail(e, err)
		}
		defer stop()
	}

	// The worker stops at runCtx, which is cancelled once the final
	// answer is taken: the answer then holds what the last checkpoint,
	// taken as Run ends, commits (give or take the records of one poll).
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var (
		wg      sync.WaitGroup
		final   aggregate
		finalC  counts
		finalP  []int32
		finalOK bool
		stopped = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var tick <-chan struct{}
		var stopTicker func()
		if d := s.opts.interval; d > 0 {
			t, st := e.newTicker(d)
			ch := make(chan struct{})
			go func() {
				for {
					select {
					case <-t:
						select {
						case ch <- struct{}{}:
						case <-stopped:
							return
						}
					case <-stopped:
						return
					}
				}
			}()
			tick, stopTicker = ch, st
			defer stopTicker()
		}
		for {
			select {
			case <-ctx.Done():
				a, c, p, err := snapshot()
				final, finalC, finalP, finalOK = a, c, p, err == nil
				stopRun()
				return
			case <-stopped:
				return
			case <-tick:
				a, c, _, err := snapshot()
				if err == nil {
					err = rep.snapshot(a.result(c))
				}
				if err != nil {
					stopRun() // a closed stdout: stop
					return
				}
			}
		}
	}()
	runErr := w.Run(runCtx)
	close(stopped)
	wg.Wait()
	if err := rep.err(); err != nil {
		return writeFailed(e, err)
	}
	if runErr != nil {
		return fail(e, kafkaError(&s.opts.kafka, runErr))
	}
	st := w.Stats()
	if st.Failed > 0 && st.LastError != nil {
		fmt.Fprintf(e.stderr, "streamstat: warning: kafka: %d transactions ended in an unknown state (their partitions were restored from Kafka); the last: %s\n", st.Failed, oneLine(st.LastError.Error()))
	}
	if !finalOK {
		return exitOK
	}
	res := kafkaPartial(final.result(finalC), fmt.Sprintf("partitions %s of %s only, the ones this worker owned", partitionList(finalP), s.opts.kafka.topic))
	if err := rep.final(res, false); err != nil {
		return writeFailed(e, err)
	}
	fmt.Fprintf(e.stderr, "streamstat: kafka: this answer covers partitions %s of %s, the ones this worker owned; the group's: streamstat merge --kafka-brokers %s --kafka-group %s\n",
		partitionList(finalP), s.opts.kafka.topic, s.opts.kafka.brokers, s.opts.kafka.group)
	return exitOK
}

// kafkaPartial is r with note as its text answer's last line, in place
// of the one about input read to its end: a Kafka answer is partial for
// its own reasons (json and csv say "complete" false all the same).
func kafkaPartial(r result, note string) result {
	r.Text += "partial answer: " + note + "\n"
	r.Filter = true
	return r
}

// partitionList spells partitions as 0,2,5 ("none" for none).
func partitionList(ps []int32) string {
	if len(ps) == 0 {
		return "none"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}
