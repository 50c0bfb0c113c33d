package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/kafkatest"
	"github.com/streamstat/streamstat/pipeline"
)

// runKafkaShedWorker runs a Kafka worker in process whose --shed operator
// costs cost a record, and returns the function that stops it.
func runKafkaShedWorker(t *testing.T, c *kafkatest.Cluster, group string, cost time.Duration, args ...string) (stop func() (string, string, int), stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	e := defaultEnv(nil, &out, &errb)
	if cost > 0 {
		e.opCost = func(n int) { time.Sleep(time.Duration(n) * cost) }
	}
	args = append(args, "--kafka-brokers", c.Brokers(), "--kafka-topic", "clicks", "--kafka-group", group, "--kafka-session", "1s", "--format", "json")
	done := make(chan int, 1)
	go func() { done <- runContext(ctx, args, e) }()
	return func() (string, string, int) {
		cancel()
		code := <-done
		return out.String(), errb.String(), code
	}, &errb
}

// kafkaShedAnswer is the part of a --shed answer the tests check.
type kafkaShedAnswer struct {
	Records, Shed, Seen, Kept uint64
	MinP                      float64 `json:"min_p"`
	Items                     []struct {
		Key                 string `json:"key"`
		Count, Lower, Upper uint64
	}
	Distinct, Lower, Upper uint64
}

func decodeShedAnswer(t *testing.T, m map[string]any) kafkaShedAnswer {
	t.Helper()
	b, _ := json.Marshal(m)
	var a kafkaShedAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestKafkaCLIShed: a Kafka worker with --shed whose operator is slower
// than the topic's backlog sheds; the group's answer (merge, from the
// snapshots' operator and shedder states) accounts for every record
// (seen = kept + shed = records produced) and its top counts' bounds
// cover the truth. Fed a small topic it can keep up with, it sheds
// nothing and answers as one process without --shed.
func TestKafkaCLIShed(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Config{Topics: []string{"clicks"}})
	// 200 µs a record: the operator, not the client's fetching (slower
	// under -race), must be what holds the worker up, or shedding would
	// not help and the controller rightly would not shed.
	n := 20000
	if testing.Short() {
		n = 10000
	}
	var lines []string
	truth := map[string]uint64{}
	for i := range n {
		k := fmt.Sprintf("user-%d", (i*7919)%(1+i%40))
		lines = append(lines, k+" /page")
		truth[k]++
	}
	c.ProduceLines(t, "clicks", lines)

	stop, stderr := runKafkaShedWorker(t, c, "g-shed", 200*time.Microsecond, "top", "-k", "2", "-f", "1", "--shed", "--max-latency", "20ms", "--http", "127.0.0.1:0")
	got := decodeShedAnswer(t, waitMerged(t, c, "g-shed", 60*time.Second))
	// The worker's page sums its partitions' shedders: every record seen.
	addr := regexp.MustCompile(`serving http://([^/]+)/`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("no address on stderr: %q", stderr.String())
	}
	var page struct {
		Shedding struct{ Seen, Kept, Shed uint64 } `json:"shedding"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + addr[1] + "/api/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if page.Shedding.Seen == uint64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page's shedding %+v: want all %d records seen", page.Shedding, n)
		}
	}
	if page.Shedding.Kept != got.Kept || page.Shedding.Shed != got.Shed {
		t.Errorf("the page's shedding %+v; the group's answer kept %d, shed %d", page.Shedding, got.Kept, got.Shed)
	}
	if _, errOut, code := stop(); code != 0 {
		t.Fatalf("worker exit %d: %s", code, errOut)
	}
	t.Logf("%d records: kept %d, shed %d, min p %v", n, got.Kept, got.Shed, got.MinP)
	if got.Shed == 0 || got.Seen != uint64(n) || got.Kept+got.Shed != uint64(n) || got.Records != got.Kept {
		t.Errorf("answer %+v: want records shed, and seen = kept + shed = %d", got, n)
	}
	// Two keys well ahead of the third (about 5850 and 1380 records of
	// 20000, then 1130): a key that made the list by a hair would be
	// listed for its overestimate, and its bounds cover less often.
	if len(got.Items) != 2 {
		t.Fatalf("items %+v: want 2", got.Items)
	}
	for _, it := range got.Items {
		if w := truth[it.Key]; w < it.Lower || w > it.Upper {
			t.Errorf("%s: %d [%d, %d] does not cover its true count %d", it.Key, it.Count, it.Lower, it.Upper, w)
		}
	}

	// Fed what it can take, with an operator at no cost: nothing shed.
	small := lines[:2000]
	c2 := kafkatest.Start(t, kafkatest.Config{Topics: []string{"clicks"}})
	c2.ProduceLines(t, "clicks", small)
	stop, _ = runKafkaShedWorker(t, c2, "g-calm", 0, "distinct", "-f", "1", "--shed")
	calm := decodeShedAnswer(t, waitMerged(t, c2, "g-calm", 30*time.Second))
	if _, errOut, code := stop(); code != 0 {
		t.Fatalf("worker exit %d: %s", code, errOut)
	}
	want := stdinAnswer(t, small, "distinct", "-f", "1")
	if calm.Shed != 0 || calm.Seen != uint64(len(small)) || float64(calm.Distinct) != want["distinct"] {
		t.Errorf("answer %+v: want nothing shed of %d records and %v distinct", calm, len(small), want["distinct"])
	}
}

// TestKafkaShedMergeOp: the --shed operators of a Kafka worker merge a
// state by MergeBinary (as pipeline/kafka's Merge does) into the answer
// the command's aggregate gives of both operators, with records kept at
// p = 1 and at p = 1/2.
func TestKafkaShedMergeOp(t *testing.T) {
	e := defaultEnv(nil, new(syncBuffer), new(syncBuffer))
	for _, args := range [][]string{
		{"distinct", "-f", "1", "--shed"},
		{"top", "-k", "3", "-f", "1", "--shed"},
		{"freq", "-f", "1", "--shed", "user-1", "user-2"},
	} {
		t.Run(args[0], func(t *testing.T) {
			c := findCommand(args[0])
			o := new(options)
			pos, err := parseArgs(c.newFlagSet(o), args[1:])
			if err == nil {
				err = o.check(c.flags)
			}
			if err != nil {
				t.Fatal(err)
			}
			s, err := kafkaSpec(e, c, o, pos)
			if err != nil {
				t.Fatal(err)
			}
			feed := func(op *kafkaOp, from int, p float32) {
				var b, out pipeline.Batch
				for i := from; i < from+3000; i++ {
					r := b.Add([]byte(fmt.Sprintf("user-%d", i%(1+i%20))))
					r.KeepP = p
				}
				if err := op.Process(&b, &out); err != nil {
					t.Fatal(err)
				}
			}
			ops := make([]*kafkaOp, 3)
			for i := range ops {
				if ops[i], err = newKafkaOp(s, []string{args[0]}, 0); err != nil {
					t.Fatal(err)
				}
			}
			feed(ops[0], 0, 0) // ops[0] and ops[1] count the same records
			feed(ops[1], 0, 0)
			feed(ops[2], 5000, 0.5)
			state, err := ops[2].MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := ops[0].MergeBinary(state); err != nil {
				t.Fatal(err)
			}
			merged, both := s.newAgg(), s.newAgg()
			if err := merged.addOp(ops[0].op()); err != nil {
				t.Fatal(err)
			}
			for _, op := range ops[1:] {
				if err := both.addOp(op.op()); err != nil {
					t.Fatal(err)
				}
			}
			g, _ := json.Marshal(merged.result(counts{Records: 6000}).JSON)
			w, _ := json.Marshal(both.result(counts{Records: 6000}).JSON)
			if string(g) != string(w) {
				t.Errorf("merged by MergeBinary: %s\nby the aggregate:   %s", g, w)
			}
		})
	}
}
