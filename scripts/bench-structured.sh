#!/usr/bin/env bash
# bench-structured.sh: times streamstat distinct on structured input (JSON
# lines keyed at user.id, quoted CSV keyed by a header name) against
# piping the key out with the usual tools (jq, Miller) into streamstat
# distinct, and against the same records as TSV (-f 3 -d tab), on the same
# generated files, in one run. A tool that is not installed is skipped.
#
#   scripts/bench-structured.sh            # N=1000000 records
#
# Environment:
#   N      records (default 1000000; JSON lines are ~200 bytes)
#   RUNS   rounds; each figure is the best round (default 3)
#   JOBS   streamstat -j (default: one per CPU)
#   DIR    work directory (default /tmp/streamstat-bench-structured)
#
# Each round runs every command once, in turn. Times are wall clock; CPU
# is user+system of every process of the command; all commands must give
# the same distinct estimate (the same keys reach the same sketch).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-3}
JOBS=${JOBS:-$(nproc)}
DIR=${DIR:-/tmp/streamstat-bench-structured}
mkdir -p "$DIR/bin"
export LC_ALL=C

echo "== build"
go build -o "$DIR/bin/streamstat" ./cmd/streamstat
go build -o "$DIR/bin/benchrun" ./cmd/streamstat/internal/benchrun
B=$DIR/bin
IN=$DIR/n$N
if [ ! -s "$IN.jsonl" ]; then
	echo "== generate $IN.{tsv,csv,jsonl}"
	# The records of pipeline's BenchmarkStructuredDistinct: 200000 users,
	# a page with a comma in its query (quoted in CSV).
	awk -v n="$N" -v out="$IN" 'BEGIN {
		srand(14)
		print "ts,method,user,page,status,ms" > (out ".csv.tmp")
		for (i = 0; i < n; i++) {
			user = "u-" int(rand() * 200000)
			page = "/catalog/item/" int(rand() * 50000)
			ms = sprintf("%.2f", rand() * 500)
			ts = sprintf("2024-06-01T12:%02d:%02d.%03dZ", int(i / 60000) % 60, int(i / 1000) % 60, i % 1000)
			printf "%s\tGET\t%s\t%s\t200\t%s\n", ts, user, page, ms > (out ".tsv.tmp")
			printf "%s,\"GET\",\"%s\",\"%s?q=a,b\",200,%s\n", ts, user, page, ms > (out ".csv.tmp")
			printf "{\"ts\":\"%s\",\"method\":\"GET\",\"user\":{\"id\":\"%s\",\"plan\":\"pro\",\"country\":\"DE\"},\"page\":\"%s\",\"status\":200,\"ms\":%s,\"agent\":\"Mozilla/5.0 (X11; Linux x86_64)\"}\n", ts, user, page, ms > (out ".jsonl.tmp")
		}
	}'
	for x in tsv csv jsonl; do mv "$IN.$x.tmp" "$IN.$x"; done
fi
cat "$IN.tsv" "$IN.csv" "$IN.jsonl" >/dev/null # into the page cache
echo "input: $N records: tsv $(du -h "$IN.tsv" | cut -f1), csv $(du -h "$IN.csv" | cut -f1), jsonl $(du -h "$IN.jsonl" | cut -f1); $(nproc) CPUs; -j $JOBS"

declare -A WALL CPU
measure() {
	local name=$1 cmd=$2 line wall cpu
	line=$("$B/benchrun" "$cmd >$DIR/$name.out" 2>&1 >/dev/null | tail -1)
	wall=${line#wall_s=}
	wall=${wall%% *}
	cpu=${line#*cpu_s=}
	cpu=${cpu%% *}
	if [ -z "${WALL[$name]:-}" ] || awk "BEGIN{exit !($wall < ${WALL[$name]})}"; then
		WALL[$name]=$wall
		CPU[$name]=$cpu
	fi
}

SS="$B/streamstat distinct -j $JOBS"
CMDS=(
	"tsv|$SS -f 3 -d tab $IN.tsv"
	"json|$SS --json user.id $IN.jsonl"
	"csv|$SS --csv --header -f user $IN.csv"
)
if command -v jq >/dev/null; then
	CMDS+=("jq|jq -r .user.id $IN.jsonl | $SS")
else
	echo "jq not installed: skipped"
fi
if command -v mlr >/dev/null; then
	CMDS+=("mlr|mlr --icsv --onidx cut -f user $IN.csv | $SS")
else
	echo "mlr (Miller) not installed: skipped"
fi
for r in $(seq "$RUNS"); do
	echo "== round $r of $RUNS"
	for c in "${CMDS[@]}"; do
		measure "${c%%|*}" "${c#*|}"
	done
done

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
row() {
	local name=$1
	[ -n "${WALL[$name]:-}" ] || return 0
	printf "%-6s %8.3f %8.3f  %-28s %s\n" "$name" "${WALL[$name]}" "${CPU[$name]}" "$2" "$(head -1 "$DIR/$name.out")"
}
echo
echo "== results (best of $RUNS rounds; N=$N)"
printf "%-6s %8s %8s  %-28s %s\n" input wall_s cpu_s ratio answer
row tsv "1 (baseline)"
row json "$(ratio "${WALL[json]}" "${WALL[tsv]}") x tsv"
row csv "$(ratio "${WALL[csv]}" "${WALL[tsv]}") x tsv"
[ -n "${WALL[jq]:-}" ] && row jq "$(ratio "${WALL[jq]}" "${WALL[json]}") x streamstat --json"
[ -n "${WALL[mlr]:-}" ] && row mlr "$(ratio "${WALL[mlr]}" "${WALL[csv]}") x streamstat --csv"
echo "commands:"
for c in "${CMDS[@]}"; do
	echo "  ${c%%|*}: ${c#*|}"
done
