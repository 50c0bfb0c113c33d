package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/kafka"
	"github.com/streamstat/streamstat/sketch"
)

// Kafka (--kafka-brokers, --kafka-topic, --kafka-group): the process is
// one worker of a consumer group (package pipeline/kafka). Each input
// partition it owns has its own operator, made as -j's workers are, and
// every second its state goes to the group's checkpoint topic in the same
// transaction as the consumed offsets. The answers it writes (--interval,
// the final one) cover the partitions it owns; merge --kafka-brokers
// reads the latest committed state of every partition of the group and
// writes the group's answer.
//
// A partition's state starts with the worker's identity: the subcommand
// and the flags that shape its state, as typed (kafkaIdentity). A worker
// refuses a partition whose state another command or shape made (its
// sketches would not merge, or would answer another question), and merge
// rebuilds the subcommand from it, so that it needs only the group.

// kafkaFlags are the --kafka-* flags.
type kafkaFlags struct {
	brokers string
	topic   string
	group   string
	session time.Duration // the group session timeout

	addrs []string // brokers, split and checked
}

const (
	defaultKafkaSession = kafka.DefaultSessionTimeout
	// kafkaTimeout bounds reaching the brokers, a restore and the end of
	// a transaction (kafka.Config.Timeout), and merge's reads.
	kafkaTimeout = 10 * time.Second
)

// register adds the --kafka-* flags set takes to fs.
func (k *kafkaFlags) register(fs *flag.FlagSet, set flagSet) {
	k.session = defaultKafkaSession
	if set&flagKafka != 0 {
		fs.StringVar(&k.brokers, "kafka-brokers", "", "")
		fs.StringVar(&k.topic, "kafka-topic", "", "")
		fs.StringVar(&k.group, "kafka-group", "", "")
	}
	if set&flagKafkaJob != 0 {
		fs.DurationVar(&k.session, "kafka-session", defaultKafkaSession, "")
	}
}

// on reports whether the run is a Kafka one.
func (k *kafkaFlags) on() bool { return k.brokers != "" }

// check validates the --kafka-* flags on their own; kafkaConflicts checks
// them against the others once the arguments are known.
func (k *kafkaFlags) check() error {
	if !k.on() {
		if k.topic != "" || k.group != "" {
			return usagef("--kafka-topic and --kafka-group need --kafka-brokers HOST:PORT,...")
		}
		if k.session != defaultKafkaSession {
			return usagef("--kafka-session needs --kafka-brokers HOST:PORT,...")
		}
		return nil
	}
	k.addrs = k.addrs[:0]
	for _, b := range strings.Split(k.brokers, ",") {
		b = strings.TrimSpace(b)
		host, port, err := net.SplitHostPort(b)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return usagef("--kafka-brokers %q: give HOST:PORT addresses separated by commas, such as 127.0.0.1:9092,127.0.0.1:9093", k.brokers)
		}
		k.addrs = append(k.addrs, b)
	}
	if k.group == "" {
		return usagef("--kafka-brokers needs --kafka-group G, the consumer group this worker joins (or whose answer merge reads)")
	}
	for _, n := range []struct{ flag, name string }{{"--kafka-topic", k.topic}, {"--kafka-group", k.group}} {
		if n.name != "" && !validKafkaName(n.name) {
			return usagef("%s %q: use up to 249 of the letters, digits, '.', '_' and '-'", n.flag, n.name)
		}
	}
	if k.session < 100*time.Millisecond || k.session > time.Hour {
		return usagef("--kafka-session %v: use 100ms to 1h", k.session)
	}
	return nil
}

// validKafkaName reports whether s is a legal Kafka topic name (group
// names are freer, but one that is not a topic name would make a bad
// checkpoint topic name).
func validKafkaName(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// kafkaConflicts refuses what a Kafka worker of cmd cannot do with the
// flags given (pos: the positional arguments).
func kafkaConflicts(cmd string, o *options, fs *flag.FlagSet, pos []string) error {
	if o.kafka.topic == "" {
		return usagef("--kafka-brokers needs --kafka-topic T, the topic to read")
	}
	if len(pos) > 0 && cmd != "freq" {
		return usagef("%s: the input is the Kafka topic %s: give no FILE", pos[0], o.kafka.topic)
	}
	for _, name := range []string{"checkpoint", "resume", "save", "i", "input", "j", "jobs", "header", "strict", "progress", "by", "window"} {
		if fs.Lookup(name) != nil && set(fs, name) {
			why := "a Kafka worker's state lives in the group's checkpoint topic"
			switch name {
			case "i", "input":
				why = "the input is the Kafka topic"
			case "j", "jobs":
				why = "each owned partition is counted on its own; start more workers for more parallelism"
			case "progress", "by", "window":
				// distinct --by -k 0 and --window count the sketches
				// of all the worker's operators in one memBudget
				// (group_all.go, window_mem.go), and a kafka.Worker
				// drops the operator of a revoked or lost partition
				// without telling it: before allowing them, the
				// worker must let an operator release what it holds.
				why = "not with --kafka-brokers yet"
			case "header":
				why = "a Kafka record has no header line: name CSV columns by number"
			case "strict":
				why = "one worker cannot stop the group at a bad record; records without a key are skipped and counted"
			}
			return usagef("%s: %s", flagName(name), why)
		}
	}
	return nil
}

// kafkaNotState are the flags that do not shape a worker's state: they
// are left out of its identity.
var kafkaNotState = map[string]bool{
	"kafka-brokers": true, "kafka-topic": true, "kafka-group": true, "kafka-session": true,
	"format": true, "interval": true, "progress": true, "http": true, "key": true, "keys-from": true,
}

// kafkaIdentity returns the arguments of a worker that shape its state:
// the subcommand, then its flags as typed, without those of
// kafkaNotState and without positional arguments (freq's keys).
func kafkaIdentity(cmd string, fs *flag.FlagSet, args []string) []string {
	id := []string{cmd}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue // a positional argument
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		takesValue := f != nil && !isBoolFlag(f) && !hasValue
		if f != nil && !kafkaNotState[name] {
			id = append(id, a)
			if takesValue && i+1 < len(args) {
				id = append(id, args[i+1])
			}
		}
		if takesValue {
			i++
		}
	}
	return id
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// kafkaStateMagic starts a partition's state: the identity follows.
const kafkaStateMagic = "streamstat-kafka 1\n"

// errKafkaIdentity: a partition's state was made by another command or
// shape.
var errKafkaIdentity = errors.New("the group's state was made by another command")

func appendIdentity(dst []byte, id []string) []byte {
	dst = append(dst, kafkaStateMagic...)
	joined := strings.Join(id, "\x00")
	dst = binary.AppendUvarint(dst, uint64(len(joined)))
	return append(dst, joined...)
}

// splitIdentity returns the identity a partition's state starts with and
// the operator's state after it.
func splitIdentity(data []byte) ([]string, []byte, error) {
	rest, ok := bytes.CutPrefix(data, []byte(kafkaStateMagic))
	if !ok {
		return nil, nil, fmt.Errorf("not a streamstat state: %w", sketch.ErrCorrupt)
	}
	r := envelope.NewReader(rest)
	n := r.MinimalUvarint()
	if r.Err != nil || n > uint64(r.Len()) || n == 0 {
		return nil, nil, fmt.Errorf("streamstat state identity: %w", sketch.ErrCorrupt)
	}
	id := strings.Split(string(r.Bytes(int(n))), "\x00")
	return id, r.Bytes(r.Len()), nil
}

// kafkaOp is a worker's operator of one partition: the command's own,
// with the worker's identity before its state.
type kafkaOp struct {
	pipeline.Mergeable
	id []string
}

// newKafkaOp makes the operator of partition p with s's newOp: a
// partition's index selects what a worker index selects for -j (stats'
// KLL seed), so that every worker makes the same one for p.
func newKafkaOp(s *spec, id []string, p int32) (*kafkaOp, error) {
	op, err := s.newOp(int(p))
	if err != nil {
		return nil, err
	}
	m, ok := op.(pipeline.Mergeable)
	if !ok && s.shed != nil {
		m, ok = &shedMergeOp{Operator: op, fresh: func() (pipeline.Operator, error) { return s.newOp(int(p)) }}, true
	}
	if !ok {
		return nil, fmt.Errorf("%s cannot run on Kafka: its state does not merge", s.cmd)
	}
	return &kafkaOp{Mergeable: m, id: id}, nil
}

// op returns the command's operator, as its aggregate takes it.
func (k *kafkaOp) op() pipeline.Operator {
	if m, ok := k.Mergeable.(*shedMergeOp); ok {
		return m.Operator
	}
	return k.Mergeable
}

func (k *kafkaOp) MarshalBinary() ([]byte, error) {
	state, err := k.Mergeable.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(appendIdentity(nil, k.id), state...), nil
}

// inner checks that data starts with k's identity and returns the rest.
func (k *kafkaOp) inner(data []byte) ([]byte, error) {
	id, state, err := splitIdentity(data)
	if err != nil {
		return nil, err
	}
	if strings.Join(id, " ") != strings.Join(k.id, " ") {
		return nil, fmt.Errorf("%w: it holds the state of `streamstat %s`, this worker is `streamstat %s`: start it with the same subcommand and flags, or use another --kafka-group",
			errKafkaIdentity, strings.Join(id, " "), strings.Join(k.id, " "))
	}
	return state, nil
}

func (k *kafkaOp) UnmarshalBinary(data []byte) error {
	state, err := k.inner(data)
	if err != nil {
		return err
	}
	return k.Mergeable.UnmarshalBinary(state)
}

func (k *kafkaOp) MergeBinary(data []byte) error {
	state, err := k.inner(data)
	if err != nil {
		return err
	}
	return k.Mergeable.MergeBinary(state)
}

// kafkaExtractor is the extractor of a Kafka worker of s: a record's value
// is one line, keyed as s keys lines; nil keys the whole value.
func kafkaExtractor(s *spec) (pipeline.Extractor, error) {
	if s.line.Extract != nil {
		return s.line.Extract, nil
	}
	if s.line.Field == 0 && s.line.ValueField == 0 {
		return nil, nil
	}
	var fields []int
	if s.line.Field > 0 {
		fields = []int{s.line.Field}
	}
	return pipeline.NewFieldsKey(s.line.Delimiter, s.line.ValueField, fields...)
}

// kafkaError is a Kafka error in the command's words, on one line,
// without the package prefixes of the layers it went through.
func kafkaError(k *kafkaFlags, err error) error {
	msg := oneLine(err.Error())
	if errors.Is(err, kafka.ErrUnreachable) {
		msg = strings.Replace(msg, strings.TrimPrefix(kafka.ErrUnreachable.Error(), "kafka: ")+": ", "", 1)
		return fmt.Errorf("kafka: cannot reach the brokers %s (within %v): %s", k.brokers, kafkaTimeout, msg)
	}
	return fmt.Errorf("kafka: %s", msg)
}

// oneLine is a message of package kafka or franz-go on one line, without
// the package prefixes of the layers it went through (franz-go lists the
// errors of several partitions on lines of their own).
func oneLine(msg string) string {
	msg = strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ")
	return strings.ReplaceAll(msg, "kafka: ", "")
}
