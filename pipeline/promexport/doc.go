// Package promexport exports a running pipeline's state to Prometheus: a
// prometheus.Collector that reads an observe.Snapshot at each scrape.
//
// The name says what it does, as expvar's does: it exports, read-only, in
// Prometheus's exposition format, and nothing else. It is a package of its
// own so that package pipeline and the other core packages never import
// client_golang, and package observe (the page) does not either.
//
// # Nothing on the data path
//
// The Collector keeps no counter of its own on the data path. A scrape
// calls the snapshot function once (observe.Server.Last, the snapshot the
// page's last tick took, or observe.Take) and turns that one Snapshot into
// metrics, so every metric of a scrape comes from the same moment, and the
// page and /metrics show the same numbers. The only state the Collector keeps is the
// checkpoint duration histogram, built from the completed checkpoints the
// snapshots list (see Collector).
//
// # Registration
//
// The Collector registers nowhere by itself: the caller passes it to the
// prometheus.Registerer of its choice (a private prometheus.Registry, for
// promhttp.HandlerFor), and adds the Go and process collectors if it wants
// them (the CLI does).
//
//	var srv *observe.Server
//	c, err := promexport.New(func() observe.Snapshot { return srv.Last() }, promexport.Config{})
//	...
//	reg := prometheus.NewRegistry()
//	if err := reg.Register(c); err != nil { ... }
//	srv = observe.NewServer(obs, observe.ServerConfig{Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
//
// # Metrics
//
// Names follow Prometheus's conventions: the prefix streamstat_, base
// units (seconds, bytes), counters ending in _total. Labels come only from
// bounded sets fixed by the graph or the code: stage and subtask, source,
// branch, result, state, answer (where the answer holds an estimate,
// "distinct" or "users.distinct"). A stream key is never a label: the
// top-k table is on the page and in /api/snapshot, not here.
//
// An operator instance's number is the label subtask (Flink's name for
// it), not instance: Prometheus sets instance (and job) on every series it
// scrapes, to the target, and would rename ours to exported_instance.
// For the same reason the job's command is the label command, not job.
//
//	streamstat_build_info{version,goversion}                  gauge 1
//	streamstat_job_info{command}                              gauge 1
//	streamstat_job_state{state}                               gauge, 1 for running, finished or failed
//	streamstat_start_timestamp_seconds                        gauge, when Run started
//	streamstat_uptime_seconds                                 gauge, frozen when Run returns
//	streamstat_resumed                                        gauge 1 if the run went on from a checkpoint
//	streamstat_restores_total                                 counter of restores from a checkpoint
//	streamstat_records_read_total                             counter, all sources, before shedding
//	streamstat_bytes_in_total                                 counter of input bytes read
//	streamstat_input_size_bytes                               gauge, when the input's size is known
//	streamstat_source_records_total{source}                   counter
//	streamstat_source_{busy,idle,backpressured}_seconds_total{source}
//	streamstat_records_in_total{stage,subtask}               counter
//	streamstat_records_out_total{stage,subtask}              counter
//	streamstat_stage_{busy,idle,backpressured}_seconds_total{stage,subtask}
//	streamstat_channel_queued_batches{stage,subtask}         gauge
//	streamstat_channel_credits{stage,subtask}                gauge
//	streamstat_channel_usage_ratio{stage,subtask}            gauge in [0, 1]
//	streamstat_branch_records_total{branch}                   counter
//	streamstat_branch_skipped_records_total{branch}           counter
//	streamstat_records_shed_total, streamstat_records_kept_total (with shedding)
//	streamstat_keep_probability                               gauge (with shedding)
//	streamstat_shed_{arrival,capacity}_records_per_second     gauge, the controllers' estimates
//	streamstat_checkpoints_total{result}                      counter: completed, failed, abandoned
//	streamstat_checkpoint_in_progress                         gauge 0 or 1
//	streamstat_checkpoint_duration_seconds                    histogram
//	streamstat_last_checkpoint_{duration,alignment,pause}_seconds, streamstat_last_checkpoint_size_bytes
//	streamstat_last_checkpoint_completed_timestamp_seconds    gauge
//	streamstat_distinct_estimate{answer}, _lower_bound, _upper_bound
//	streamstat_last_record_timestamp_seconds                  gauge, freshness
//
// testdata/metrics.golden pins every name, type and help text.
package promexport
