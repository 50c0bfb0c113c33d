package main

import (
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamstat/streamstat/pipeline/kafka"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/shedding"
)

// A Kafka worker's --http serves the live page, /events, /api/snapshot
// (with the worker's Kafka counters as its details) and /metrics, as a
// stdin run does.

// kafkaDetailsJSON is the details of a Kafka worker's snapshot.
type kafkaDetailsJSON struct {
	Kafka kafkaStatsJSON `json:"kafka"`
}

type kafkaStatsJSON struct {
	Brokers   string  `json:"brokers"`
	Topic     string  `json:"topic"`
	Group     string  `json:"group"`
	Owned     []int32 `json:"owned"`
	Records   uint64  `json:"records"`
	Shed      uint64  `json:"shed"`
	Skipped   uint64  `json:"skipped"`
	Committed uint64  `json:"transactions_committed"`
	Aborted   uint64  `json:"transactions_aborted"`
	Failed    uint64  `json:"transactions_failed"`
	Restores  uint64  `json:"restores"`
	Rollbacks uint64  `json:"rollbacks"`
	// LastCheckpointSeconds and LastCheckpointBytes describe the last
	// committed transaction.
	LastCheckpointSeconds float64 `json:"last_checkpoint_seconds"`
	LastCheckpointBytes   int64   `json:"last_checkpoint_bytes"`
	LastError             string  `json:"last_error,omitempty"`
}

func kafkaStats(k *kafkaFlags, st kafka.Stats) kafkaStatsJSON {
	j := kafkaStatsJSON{
		Brokers: k.brokers, Topic: k.topic, Group: k.group, Owned: st.Owned,
		Records: st.Records, Shed: st.Shed, Skipped: st.Skipped,
		Committed: st.Committed, Aborted: st.Aborted, Failed: st.Failed,
		Restores: st.Restores, Rollbacks: st.Rollbacks,
		LastCheckpointSeconds: st.LastCheckpoint.Seconds(), LastCheckpointBytes: st.LastCheckpointBytes,
	}
	if j.Owned == nil {
		j.Owned = []int32{}
	}
	if st.LastError != nil {
		j.LastError = oneLine(st.LastError.Error())
	}
	return j
}

// kafkaCollector reads a worker's counters at every scrape.
type kafkaCollector struct {
	w                                           *kafka.Worker
	records, shed, skipped, txns, restores, rbs *prometheus.Desc
	owned, ckptSeconds, ckptBytes               *prometheus.Desc
}

func newKafkaCollector(w *kafka.Worker) *kafkaCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("streamstat_kafka_"+name, help, labels, nil)
	}
	return &kafkaCollector{
		w:           w,
		records:     d("records_total", "Records this worker took from its partitions (those of aborted transactions included)."),
		shed:        d("records_shed_total", "Records taken and shed."),
		skipped:     d("records_skipped_total", "Records taken without a key."),
		txns:        d("transactions_total", "Checkpoint transactions by outcome: committed, aborted (rolled back), failed (outcome unknown, session recreated).", "outcome"),
		restores:    d("restores_total", "Partitions restored from the checkpoint topic on assignment."),
		rbs:         d("rollbacks_total", "Partitions rolled back to their last commit after an abort."),
		owned:       d("partitions_owned", "Input partitions this worker owns now."),
		ckptSeconds: d("checkpoint_duration_seconds", "Duration of the last committed checkpoint transaction."),
		ckptBytes:   d("checkpoint_size_bytes", "Snapshot bytes the last committed checkpoint transaction wrote."),
	}
}

func (c *kafkaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.records, c.shed, c.skipped, c.txns, c.restores, c.rbs, c.owned, c.ckptSeconds, c.ckptBytes} {
		ch <- d
	}
}

func (c *kafkaCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.w.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.records, st.Records)
	counter(c.shed, st.Shed)
	counter(c.skipped, st.Skipped)
	counter(c.txns, st.Committed, "committed")
	counter(c.txns, st.Aborted, "aborted")
	counter(c.txns, st.Failed, "failed")
	counter(c.restores, st.Restores)
	counter(c.rbs, st.Rollbacks)
	ch <- prometheus.MustNewConstMetric(c.owned, prometheus.GaugeValue, float64(len(st.Owned)))
	ch <- prometheus.MustNewConstMetric(c.ckptSeconds, prometheus.GaugeValue, st.LastCheckpoint.Seconds())
	ch <- prometheus.MustNewConstMetric(c.ckptBytes, prometheus.GaugeValue, float64(st.LastCheckpointBytes))
}

// startKafkaWeb serves worker w of s on s.opts.http, as the page of a
// stdin run is served (package observe reads a Worker as it reads a
// pipeline); answer gives the JSON answer of the partitions w owns. The
// snapshot's details are the worker's Kafka counters, and /metrics adds
// them to the page's. It prints the address on stderr (a port 0 picks a
// free one) and returns the function that stops serving.
func startKafkaWeb(e *env, s *spec, w *kafka.Worker, answer func() (any, error)) (stop func(), err error) {
	ln, err := net.Listen("tcp", s.opts.http)
	if err != nil {
		return nil, fmt.Errorf("--http %s: %w", s.opts.http, err)
	}
	k := &s.opts.kafka
	info := observe.Info{
		Job:         s.cmd,
		Inputs:      []string{fmt.Sprintf("kafka topic %s (group %s, brokers %s)", k.topic, k.group, k.brokers)},
		Version:     version(),
		Checkpoints: true,
		Details:     func() any { return kafkaDetailsJSON{Kafka: kafkaStats(k, w.Stats())} },
	}
	if s.shed != nil {
		// The page sums the shedders of the partitions owned now.
		info.Shedders = func() []*shedding.Shedder {
			var shs []*shedding.Shedder
			w.Query(func(parts []kafka.PartitionState) error {
				for _, p := range parts {
					if sh, ok := p.Shedder.(*shedding.Shedder); ok {
						shs = append(shs, sh)
					}
				}
				return nil
			})
			return shs
		}
	}
	obs := observe.NewObserver(w, info, func() any {
		a, err := answer()
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return a
	})
	return serveObserver(e, ln, obs, newKafkaCollector(w))
}
