package main

import "strings"

// Help texts. `streamstat help` gives the overview and helpCommon (input,
// output, running, exit codes: everything the subcommands share);
// `streamstat help CMD` gives CMD's own text and a line for each flag CMD
// takes, no more (see command.fullHelp). The first line of each
// subcommand's text is its summary in the overview.

// flagDocs documents the shared flags, one entry per flagSet bit, in the
// order help lists them. A subcommand's help lists the entries of the
// bits it takes.
var flagDocs = []struct {
	set  flagSet
	text string
}{
	{flagInput, `  -f, --field N        key field, 1-based (0, the default: the whole line);
                       1,3: a composite key, shown as a tuple; given once
  -d, --delimiter D    field delimiter: a single byte (, | ;), an escape (\t,
                       \x1f), tab, or ws (the default) for runs of whitespace
`},
	{flagStructured, `  --csv                RFC 4180 records: quoted fields; -d sets the comma
  --tsv                --csv with tab-separated fields
  --header             with --csv: the first record names columns (-f NAME)
  --strict             a record without a key is an error, not skipped
`},
	{flagJSONKey, `  --json PATH          JSON lines, keyed at PATH (user.id, /user/id; a,b)
`},
	{flagValueJSON, `  --value-json PATH    JSON lines, the numbers at PATH (user.ms, /user/ms)
`},
	{0, `  --format F           text (the default), json (one object per line) or
                       csv (a header, then rows)
`},
	{flagInterval, `  --interval D         also write an answer every D (e.g. 10s) while reading
`},
	{flagSave, `  --save FILE          write the final state to FILE, for merge
`},
	{flagProgress, `  --progress P         progress on stderr: auto (to a terminal), always, never
`},
	{flagJobs, `  -j, --jobs N         workers (default: one per CPU)
`},
	{flagCheckpoint, `  --checkpoint DIR     save the run's state to DIR every
                       --checkpoint-interval, for --resume after a crash
  --checkpoint-interval D
                       how often (default 10s)
  --resume             go on from the newest complete checkpoint in DIR
`},
	{flagShed, `  --shed               on a live stream that arrives faster than it can be
                       counted, drop records instead of falling behind
  --max-latency D      the queueing delay --shed stays under (default 100ms)
`},
	{flagHTTP, `  --http ADDR          serve the run's live page at ADDR (127.0.0.1:8080)
`},
	{flagKafka, `  --kafka-brokers B    Kafka brokers (host:port,...), topic and consumer
  --kafka-topic T      group: a worker of G reads T, merge reads G's
  --kafka-group G      answer; see Kafka in 'streamstat help'
`},
	{flagKafkaJob, `  --kafka-session D    the group's session timeout (default 10s)
`},
	{flagBy, `  --by G               an answer per group G (a field, column or JSON path)
`},
	// --window goes with the commands that take -j (windowCommands).
	{flagJobs, `  --window D           an answer per window of D (1m), as each one closes
  --slide S            windows every S, D a whole multiple of S (sliding)
  --time-field F       windows of the records' times at F, not the clock's
  --time-format T      rfc3339 (the default), unix, unixms or a Go layout
  --lateness D         how late a record may come and count (event time)
`},
}

const helpCommon = `Input:
  FILE arguments are read in order; with none, or for "-", stdin is read
  (not a terminal: with no FILE, stdin must be a pipe or a file).
  Each line is a record; its key is the whole line, or one field of it:
  -f, --field N        key field, 1-based (0, the default: the whole line);
                       a list (1,3) makes a composite key, shown as a
                       tuple (a, b) in every output format
  -d, --delimiter D    field delimiter: a single byte (, | ;), an escape (\t,
                       \x1f), tab, or ws (the default) for runs of whitespace
  A trailing \r is not part of a line (CRLF input), a last line without a
  newline is a line, an empty line is a record with an empty key, and every
  other byte (NUL, invalid UTF-8) is part of the key as it is. Lines may be
  of any length. Lines without the key field are skipped, counted and
  reported ("skipped"), never dropped silently.
  Structured input: --json PATH keys JSON lines by a path (dedup too);
  --csv (--tsv) reads RFC 4180 records, which may span lines, with -f
  numbers or, with --header, column names (not dedup). Records
  without a key (invalid JSON or CSV, a missing path or column, null) are
  skipped and counted; --strict makes the first one an error with its
  byte offset (and, with -j 1, its record number).

Output:
  --format F           text (the default, aligned for people), json (one
                       object per line) or csv (a header, then rows)
  Every answer says how many records were read, skipped and shed (shed is
  0 without --shed); csv repeats these totals on every row.
  Keys are shown as they are in json (with key_base64 when they are not
  valid UTF-8) and csv; text quotes keys that would be ambiguous (empty,
  blanks at either end, control characters, invalid UTF-8).
  json answers carry "complete": false when the input was not read to its
  end (a snapshot, or an interrupted run); csv has a complete column.

Running:
  --interval D         also write an answer every D (e.g. 10s) while reading.
                       Each snapshot carries its time: text answers start
                       with a "snapshot N at TIME" line (the last one with
                       "final answer at TIME"), json ones add "snapshot"
                       (0 for the final answer), "time" and "final", csv
                       rows start with the snapshot number ("final" for
                       the final answer) and the time
  --save FILE          write the final state to FILE, for merge; a FILE
                       that cannot be written is an error before any input
                       is read. The file is synced to disk
  --progress P         progress on stderr: auto (the default: only when
                       stderr is a terminal), always or never
  -j, --jobs N         workers (default: one per CPU)
  --http ADDR          serve a live page of the run at ADDR (such as
                       127.0.0.1:8080; port 0 picks one, printed on stderr):
                       / the page, /events, /api/snapshot (the json answer
                       and the run's state), /api/history, /metrics
                       (Prometheus), /healthz. The answer is still written
                       at the end of the input; the page then shows the
                       final state until SIGINT or SIGTERM
  --checkpoint DIR     save the run's state to DIR every --checkpoint-interval
                       (default 10s), so that --resume can go on after a
                       crash or a kill (distinct, top, freq, sample, stats)
  --resume             go on from the newest complete checkpoint in DIR, if
                       there is one: a file is read on from the saved
                       offsets; a stream (stdin) piped again is read and
                       skipped up to them. Without -j it takes the
                       checkpoint's number of workers. The answer is the one
                       an uninterrupted run gives. With another -j the saved
                       states are merged and what is left of the input is
                       dealt to the new workers, each record counted once:
                       distinct's answer stays byte-identical; top's, freq's
                       and stats' stay within the bounds they print but may
                       differ (which worker saw which record shapes them).
                       A checkpoint of another job
                       (other flags, inputs, or a file that changed size)
                       is refused; without --resume, DIR's checkpoints are
                       replaced. A damaged checkpoint is skipped, with a
                       message, for the one before it. SIGINT or SIGTERM
                       takes a last checkpoint before stopping. A resumed
                       run takes none before the hashes of the bytes it
                       skipped have matched: a refused or interrupted
                       --resume leaves DIR's newest checkpoint as it was.
  On SIGINT or SIGTERM the answer for what was read so far is written,
  marked partial (text: a last line "partial answer: ...", but for
  sample's keys; json "complete": false; csv complete false), stderr says
  so, and streamstat exits 0; a second signal kills it. The same input and flags
  always give the same output, whatever the thread timing; distinct's
  answer is also the same for every -j. Not so with --shed: which records
  are shed depends on timing, so the answer may change from run to run
  (within its bounds).

Load shedding (distinct, top, freq):
  --shed               when a live stream arrives faster than it can be
                       counted, drop records at each worker instead of
                       falling behind; nothing is dropped without overload
  --max-latency D      the queueing delay to stay under (default 100ms;
                       only with --shed)
  distinct drops whole keys (key-hash) and counts from the HLL registers
  that saw every key (P 14 or more); top and freq drop records at random
  and count each kept one as 1/p of them (p, the keep probability, falls
  with the overload and returns to 1 after it). The answers are scaled up and
  their bounds include the sampling error (95% confidence). Every answer
  adds seen (records that reached the shedders), kept, shed_fraction,
  min_p, mean_p, shed_policy and max_latency_ms (in text, a last line;
  top's items a confidence), and stderr gets a line at the end when anything was
  shed. --shed is for streams (stdin, pipes, FIFOs): a regular FILE
  waits to be read at the pace of counting, so nothing in it is late, and
  --shed with a FILE argument is a usage error. A fast producer on a pipe
  (cat FILE |) is a stream like any other: what it writes faster than it
  can be counted is shed.
  With --checkpoint, the keep probability in force and what was shed are
  saved too, and a resumed run reports the shedding of the whole input.
  --save cannot be combined with --shed yet; sample and stats refuse
  --shed.

  tail -f access.log | streamstat top --shed --max-latency 100ms --interval 5s

Kafka (distinct, top, freq, stats; examples/kafka):
  --kafka-brokers B --kafka-topic T --kafka-group G make the process one
  worker of consumer group G on topic T: each record's value is a line,
  each partition it owns keeps its own sketch, and every second a
  transaction writes the sketches to topic G-streamstat-checkpoints and
  commits the offsets with them. Start more workers for more parallelism
  (up to T's partitions); a worker that dies (even by SIGKILL) loses
  nothing: after --kafka-session its partitions go on elsewhere from their
  last commit. All workers of a group take the same subcommand and
  flags. A worker's answers (--interval, and the final one on SIGINT or
  SIGTERM) cover the partitions it owns;
    streamstat merge --kafka-brokers B --kafka-group G [--kafka-topic T]
  writes the group's answer from the committed sketches (with
  --kafka-topic, "complete" when they cover all of T). Unreachable
  brokers or a missing topic are an error (exit 1) within 10s. --http
  serves the live page (the owned partitions as the instances of one
  stage, the transactions as checkpoints), /api/snapshot (with the Kafka
  counters) and /metrics. --shed sheds while the worker falls behind the
  topic; snapshots keep what each partition's shedder did, and merge's
  answer scales it up. Not yet with a Kafka worker: --save, --checkpoint,
  -j.

Exit codes:
  0  success (also when stdout is closed early, as by head)
  1  runtime or input error: unreadable file, damaged state file, ...
  2  usage error
  Messages go to stderr, prefixed "streamstat: ".
  streamstat --version (or streamstat version) prints the version.
`

// helpFooter ends every subcommand's help.
const helpFooter = "Run 'streamstat help' for the input rules, the output formats, signals\nand exit codes.\n"

// flagsHelp returns the doc lines of the shared flags in set.
func flagsHelp(set flagSet) string {
	var b strings.Builder
	for _, d := range flagDocs {
		if d.set == 0 || set&d.set != 0 {
			b.WriteString(d.text)
		}
	}
	return b.String()
}

const helpDistinct = `distinct count with bounds
Estimates the number of distinct keys with a HyperLogLog sketch of 2^P
registers (2^P bytes per worker, whatever the number of keys): relative
error about 1.04/sqrt(2^P), 0.81% at the default P = 14. Up to a few
thousand keys the count is nearly exact. The bounds hold with 95%
confidence.

  --precision P        4 to 18 (default 14)
%FLAGS%
Output: distinct, lower, upper, confidence, exact, records, skipped, shed,
precision, saturated (every register full: the count is only a lower
bound; json gives it only when true). --shed (P >= 14): the same; if keys
were shed (keep probability down to p), from the p*2^P registers that saw
every key: error 1.04/sqrt(p*2^P), 8% at p=0.01; cover is their share.

With --by G: the groups with the most distinct keys, with 95% bounds, from
a sample of 2^P (group, key) pairs per worker (P default 14: 1 MiB).
  -k N                 with --by: groups to list (default 10; 0: every one,
                       in memory that grows with the groups: P default 12)
  --max-memory M       with -k 0: exit 1 once the group sketches (of all the
                       windows held, with --window) pass M (default 1GiB)

  streamstat distinct access.log
  streamstat distinct -f 3 -d , users.csv
  streamstat distinct -f 1 --by 7 access.log    # distinct clients per URL
`

const helpTop = `heavy hitters with counts and bounds
Finds the K most frequent keys (default 10) with the Space-Saving algorithm
in 2^P counters per worker (at least K; default P = 12: 4096 counters).
Every true count lies in [lower, upper] for certain; "guaranteed" says the
key is certainly among the true top K; keys not listed occur at most
unlisted_max times. Ties are listed by key.

  -k N                 keys to list (default 10; --by: groups, values each)
  --precision P        4 to 22 (default 12)
%FLAGS%
Output: rank, key, count, lower, upper, guaranteed for each key, then
records, skipped, shed, total (records counted), capacity and unlisted_max
(in csv, on every row). With --shed, once anything is shed the bounds hold
with 95% confidence each (json and csv give it per key) and guaranteed is
no.

  streamstat top -k 5 access.log
  streamstat top -f 7 --interval 10s --format json < live.log
  streamstat top -f 7 --by 1 access.log   # top URLs of the top clients
`

const helpFreq = `estimated frequency of the given keys in the input
Counts every key in a CountMin sketch (width 2^P, 5 rows; 640 KiB per
worker at the default P = 14) and reports the keys asked about, in order.
Counts never fall below the truth; the lower bounds hold with 99.3%
confidence (1-e^-5); an absent key is exactly 0 when the sketch proves it.

Keys and inputs: with --key or --keys-from, the arguments are input
FILEs; without, they are the KEYs, and -i (or stdin) gives the inputs.
  --key K              a key to report (repeatable)
  --keys-from FILE     the keys to report, one per line
  -i, --input FILE     read FILE (repeatable; - is stdin)
  --precision P        4 to 24 (default 14)
  -k N                 with --by: groups to list, each KEY counted in each
%FLAGS%
Output: key, count, lower, upper, guaranteed (the count is exact) for each
key, then records, skipped, shed, total, confidence, width, depth (in csv,
on every row). With --shed, once anything is shed a count may also fall
below the truth, and both bounds hold with 95% confidence.

  streamstat freq --key GET --key POST -f 6 access.log
  streamstat freq -f 1 GET POST < access.log
`

const helpSample = `uniform sample of lines (or fields)
Keeps a uniform random sample of K records (default 10) with reservoir
sampling (Algorithm L), in one worker: every record is in the sample with
probability K/N. The sample is shown in input order: in text, one key per
line. The same --seed and input give the same sample.

  -k N                 sample size (default 10)
  --seed S             random seed (default 1)
%FLAGS%
Output: the sampled keys; json and csv add records, skipped, shed and k
(csv numbers the keys, n, and repeats the totals on every row).

  streamstat sample -k 100 big.log > sample.log
`

const helpStats = `count, mean, stddev, min, max, quantiles of a numeric field
Summarises the numbers in field N: count, mean with its 95% confidence
interval, sample standard deviation, min, max (exact), and quantiles from a
KLL sketch with bounds on each (q = 0 and 1 are the exact min and max).
Lines without field N are skipped; fields that are not a finite decimal
number (7, -2.5, 3e-4) are counted as bad, and stderr says how many; when
no value is a number, stats says so and exits 1.

  -f, --field N        the numeric field (required)
  -q, --quantiles L    quantiles to report, in [0, 1] (default 0.5,0.9,0.99)
%FLAGS%
Output: count, mean, mean_lower, mean_upper, stddev, min, max, each
quantile with its bounds, then records, skipped, bad, shed.

With --by G: per group, for the groups with the most records, from a
Space-Saving summary of max(256, 8k) groups per worker. A group admitted
late (some of its records went uncounted) shows its count as a range, its
statistics over its records since; json and csv say "late".
  -k N                 with --by: groups to list (default 10)

  streamstat stats -f 10 access.log
  streamstat stats -f 10 --by 7 access.log    # latency per URL
`

const helpDedup = `first occurrence of each key only
Writes every line whose key was not seen before, in input order, as it
reads (a filter, in one worker: every line ends with a newline). It
remembers keys in a Bloom filter sized for --capacity keys at --fp-rate: a
new key is dropped by mistake with at most that probability while the
filter is within its capacity; a repeated key is never passed. The summary
goes to stderr: with --format json or csv always, in text only to warn when
the filter is past its capacity (its false-positive rate is then above the
target).

  --capacity N         keys the filter is sized for (default 10000000:
                       11.4 MiB at 1%)
  --fp-rate R          false-positive rate at capacity (default 0.01)
%FLAGS%
Summary: records, passed, skipped, shed, distinct (with lower and upper),
fp_rate (now), target_fp_rate, capacity.

  tail -f app.log | streamstat dedup -f 5
`

const helpMerge = `merge state files written with --save and print the merged answer
Reads state files written by one subcommand with --save (from different
inputs, machines or days), merges their sketches and writes the answer that
subcommand would have written for all the inputs together. Counts add up.
A file that is not a state file, is damaged, holds another subcommand's
state, a state made with another key field, delimiter or sketch shape, or
a state already merged in (the same file twice, or a merge of it) is an
error (exit 1). A state saved by an interrupted run makes the answer
partial.

  -k N                 for top: number of keys to list (default: as saved)
%FLAGS%
With --kafka-brokers and --kafka-group, merge reads the committed state
of every partition of the Kafka group instead (KEYs: for freq).

  streamstat distinct --save mon.state mon.log
  streamstat distinct --save tue.state tue.log
  streamstat merge mon.state tue.state
`
