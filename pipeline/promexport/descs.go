package promexport

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// descs are the descriptors of every metric, made once per Collector.
type descs struct {
	buildInfo, jobInfo, jobState, start, uptime, resumed, restores  *prometheus.Desc
	recordsRead, bytesIn, inputSize, lastRecord                     *prometheus.Desc
	srcRecords, srcBusy, srcIdle, srcBP                             *prometheus.Desc
	recordsIn, recordsOut, busy, idle, bp, queued, credits, usage   *prometheus.Desc
	branchRecords, branchSkipped                                    *prometheus.Desc
	shed, kept, keepP, arrival, capacity                            *prometheus.Desc
	checkpoints, inProgress, duration                               *prometheus.Desc
	lastDuration, lastAlignment, lastPause, lastSize, lastCompleted *prometheus.Desc
	distinct, distinctLower, distinctUpper                          *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("streamstat_"+name, help, labels, nil)
	}
	si := []string{"stage", "subtask"}
	return descs{
		buildInfo: d("build_info", "A metric with a constant '1' value labeled by the streamstat version and the Go version it was built with.", "version", "goversion"),
		jobInfo:   d("job_info", "A metric with a constant '1' value labeled by the job's command (the CLI's subcommand or a program's name).", "command"),
		jobState:  d("job_state", "1 for the job's state (running, finished or failed), 0 for the others.", "state"),
		start:     d("start_timestamp_seconds", "When the pipeline's Run started, in seconds since the Unix epoch."),
		uptime:    d("uptime_seconds", "Seconds since the pipeline's Run started, frozen when it returns."),
		resumed:   d("resumed", "1 if the run went on from a checkpoint, else 0."),
		restores:  d("restores_total", "Restores from a checkpoint this run made (0 or 1)."),

		recordsRead: d("records_read_total", "Records all sources produced, before any shedding."),
		bytesIn:     d("bytes_in_total", "Input bytes read."),
		inputSize:   d("input_size_bytes", "Total size of the input in bytes, when known (absent for a pipe)."),
		lastRecord:  d("last_record_timestamp_seconds", "When the sources last produced a record, as seen by the snapshots, in seconds since the Unix epoch."),

		srcRecords: d("source_records_total", "Records the source produced, before any shedding.", "source"),
		srcBusy:    d("source_busy_seconds_total", "Seconds the source's goroutine was busy: reading records and running the operators chained to it.", "source"),
		srcIdle:    d("source_idle_seconds_total", "Seconds the source waited for input that had not arrived.", "source"),
		srcBP:      d("source_backpressured_seconds_total", "Seconds the source waited for credit downstream.", "source"),

		recordsIn:  d("records_in_total", "Records the operator instance processed.", si...),
		recordsOut: d("records_out_total", "Records the operator instance passed on.", si...),
		busy:       d("stage_busy_seconds_total", "Seconds the instance's goroutine was busy (neither idle nor back-pressured).", si...),
		idle:       d("stage_idle_seconds_total", "Seconds the instance's goroutine waited for input.", si...),
		bp:         d("stage_backpressured_seconds_total", "Seconds the instance's goroutine waited for credit downstream.", si...),
		queued:     d("channel_queued_batches", "Batches queued at the instance's input channel.", si...),
		credits:    d("channel_credits", "Credits the instance's senders hold unused.", si...),
		usage:      d("channel_usage_ratio", "Fraction of the instance's input channel buffers in flight (0 for an instance chained to its source).", si...),

		branchRecords: d("branch_records_total", "Records a fan-out re-keyed into the branch.", "branch"),
		branchSkipped: d("branch_skipped_records_total", "Records the branch's key refused (a line without the field), counted, never dropped silently.", "branch"),

		shed:     d("records_shed_total", "Records the shedders dropped at ingress."),
		kept:     d("records_kept_total", "Records the shedders kept."),
		keepP:    d("keep_probability", "Keep probability in force, the mean over the sources' shedders (1: nothing shed)."),
		arrival:  d("shed_arrival_records_per_second", "Arrival rate the shedding controllers measure, summed over the sources (0: not known yet)."),
		capacity: d("shed_capacity_records_per_second", "Capacity the shedding controllers measure, summed over the sources (0: not known yet)."),

		checkpoints:   d("checkpoints_total", "Checkpoints by result: completed, failed, or abandoned (the run ended under it).", "result"),
		inProgress:    d("checkpoint_in_progress", "1 while a checkpoint is in progress, else 0."),
		duration:      d("checkpoint_duration_seconds", "Duration of completed checkpoints, from trigger to publication."),
		lastDuration:  d("last_checkpoint_duration_seconds", "Duration of the last completed checkpoint, from trigger to publication."),
		lastAlignment: d("last_checkpoint_alignment_seconds", "Longest time an instance held inputs back to align for the last completed checkpoint."),
		lastPause:     d("last_checkpoint_pause_seconds", "Longest time an instance stopped processing to copy its state for the last completed checkpoint."),
		lastSize:      d("last_checkpoint_size_bytes", "Bytes the last completed checkpoint wrote."),
		lastCompleted: d("last_checkpoint_completed_timestamp_seconds", "When the last checkpoint completed, in seconds since the Unix epoch."),

		distinct:      d("distinct_estimate", "Estimated number of distinct keys, by where the answer holds it.", "answer"),
		distinctLower: d("distinct_estimate_lower_bound", "Lower bound of the distinct estimate at the answer's confidence (95% by default).", "answer"),
		distinctUpper: d("distinct_estimate_upper_bound", "Upper bound of the distinct estimate at the answer's confidence (95% by default).", "answer"),
	}
}

// all returns every descriptor.
func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.buildInfo, d.jobInfo, d.jobState, d.start, d.uptime, d.resumed, d.restores,
		d.recordsRead, d.bytesIn, d.inputSize, d.lastRecord,
		d.srcRecords, d.srcBusy, d.srcIdle, d.srcBP,
		d.recordsIn, d.recordsOut, d.busy, d.idle, d.bp, d.queued, d.credits, d.usage,
		d.branchRecords, d.branchSkipped,
		d.shed, d.kept, d.keepP, d.arrival, d.capacity,
		d.checkpoints, d.inProgress, d.duration,
		d.lastDuration, d.lastAlignment, d.lastPause, d.lastSize, d.lastCompleted,
		d.distinct, d.distinctLower, d.distinctUpper,
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unix is t in seconds since the Unix epoch.
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
