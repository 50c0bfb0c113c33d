package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline/kafka"
)

// runKafkaMerge writes the answer of a whole consumer group: the merge of
// the latest committed state of every partition in its checkpoint topic.
// The subcommand and its flags come from the states (kafkaIdentity); pos
// are freq's keys. With --kafka-topic, the answer is complete when the
// group's committed offsets are the topic's end offsets, and a note on
// stderr says how far behind it is otherwise.
func runKafkaMerge(ctx context.Context, e *env, o *options, fs *flag.FlagSet, pos []string) int {
	k := &o.kafka
	if set(fs, "k") && (o.k < 1 || o.k > 1<<20) {
		return usage(e, "merge", usagef("-k %d: must be in [1, %d]", o.k, 1<<20))
	}
	if o.save != "" {
		return usage(e, "merge", usagef("--save: not with --kafka-brokers yet"))
	}
	snaps, err := kafka.ReadSnapshots(ctx, kafka.ReadConfig{Brokers: k.addrs, Group: k.group, Timeout: kafkaTimeout})
	if err != nil {
		return fail(e, kafkaError(k, fmt.Errorf("merge: %w", err)))
	}
	if len(snaps) == 0 {
		return fail(e, fmt.Errorf("kafka: merge: group %s has committed no state yet (its workers commit every second once they have records)", k.group))
	}
	id, _, err := splitIdentity(snaps[0].State)
	if err != nil {
		return fail(e, fmt.Errorf("kafka: merge: partition %d of group %s: %w", snaps[0].Partition, k.group, err))
	}
	c := findCommand(id[0])
	if c == nil || c.setup == nil {
		return fail(e, fmt.Errorf("kafka: merge: group %s holds the state of an unknown subcommand %q (a newer streamstat?)", k.group, id[0]))
	}
	if len(pos) > 0 && c.name != "freq" {
		return usage(e, "merge", usagef("%s: merge --kafka-brokers takes KEYs only for a group of freq workers; group %s runs %s", pos[0], k.group, c.name))
	}
	wo := new(options)
	wfs := c.newFlagSet(wo)
	if _, err := parseArgs(wfs, id[1:]); err != nil {
		return fail(e, fmt.Errorf("kafka: merge: the flags of group %s's workers do not parse here (%v): %q", k.group, flagError(c.name, wfs, err), strings.Join(id, " ")))
	}
	if err := wo.check(c.flags); err != nil {
		return fail(e, fmt.Errorf("kafka: merge: the flags of group %s's workers: %v", k.group, err))
	}
	wo.format = o.format
	s, err := kafkaSpec(e, c, wo, pos)
	if err != nil {
		return fail(e, fmt.Errorf("kafka: merge: %v", err))
	}
	a := s.newAgg()
	var cnt counts
	next := make(map[int32]int64, len(snaps))
	for _, sn := range snaps {
		op, err := newKafkaOp(s, id, sn.Partition)
		if err == nil {
			err = op.UnmarshalBinary(sn.State)
		}
		if err == nil {
			err = addShedState(s, sn.Partition, sn.ShedState)
		}
		if err == nil {
			err = a.addOp(op.op())
		}
		if err != nil {
			return fail(e, fmt.Errorf("kafka: merge: partition %d of group %s: %w", sn.Partition, k.group, err))
		}
		cnt.add(counts{Records: sn.Records, Skipped: sn.Skipped, Shed: sn.Shed})
		next[sn.Partition] = sn.Offset
	}
	markTuple(a, wo.st.parts > 1)
	if t, ok := a.(*topAgg); ok && o.k > 0 {
		t.k = o.k
	}
	res := a.result(cnt)
	complete := false
	if k.topic == "" {
		res = kafkaPartial(res, fmt.Sprintf("as of group %s's last commits (--kafka-topic T also says whether they cover all of T)", k.group))
	} else {
		lag, behind, err := kafkaLag(ctx, k, next)
		if err != nil {
			return fail(e, kafkaError(k, fmt.Errorf("merge: %w", err)))
		}
		complete = lag == 0
		if lag > 0 {
			note := fmt.Sprintf("group %s has not committed the last %d records of %s yet (partitions %s)", k.group, lag, k.topic, partitionList(behind))
			fmt.Fprintf(e.stderr, "streamstat: kafka: merge: %s\n", note)
			res = kafkaPartial(res, note)
		}
	}
	if err := newReporter(e, e.stdout, o.format, false).final(res, complete); err != nil {
		return writeFailed(e, err)
	}
	if err := answerCheck(e, a, cnt); err != nil {
		return fail(e, err)
	}
	return exitOK
}

// kafkaLag returns the number of records of k.topic past the offsets in
// next (each partition's next offset, as committed), and the partitions
// that have such records.
func kafkaLag(ctx context.Context, k *kafkaFlags, next map[int32]int64) (int64, []int32, error) {
	ctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addrs...))
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, k.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %v", kafka.ErrUnreachable, err)
		}
		return 0, nil, fmt.Errorf("end offsets of %s: %w", k.topic, err)
	}
	var lag int64
	var behind []int32
	ends.Each(func(o kadm.ListedOffset) {
		if d := o.Offset - max(next[o.Partition], 0); d > 0 {
			lag += d
			behind = append(behind, o.Partition)
		}
	})
	slices.Sort(behind)
	return lag, behind, nil
}
