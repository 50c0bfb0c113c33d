#!/usr/bin/env bash
# bench-cli.sh: times the streamstat CLI against a naive single-goroutine
# Go loop (bufio + xxhash + the same sketch) and the sort pipelines, on one
# Zipf-distributed input, in one run, and prints the ratios and peak memory.
#
#   scripts/bench-cli.sh                   # N=10000000 lines (quick)
#   N=100000000 scripts/bench-cli.sh       # the README's figures
#
# Environment:
#   N      lines of input (default 10000000)
#   KEYS   distinct keys of the Zipf law (default N/10)
#   S      Zipf exponent (default 1.1)
#   RUNS   rounds for the Go programs; each figure is the best round (default 3)
#   SORT   0 skips the sort pipelines (they take minutes at N=1e8)
#   DIR    work directory for the binaries and the input (default
#          /tmp/streamstat-bench; the input is ~8 bytes a line, kept for reuse)
#
# Each round runs every command once, in turn, so that noise from other
# work on the machine spreads over all of them. Times are wall clock; CPU
# is user+system; peak RSS is the largest process of the command (for
# "cat FILE | x", the larger of cat and x).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000000}
KEYS=${KEYS:-$((N / 10))}
S=${S:-1.1}
RUNS=${RUNS:-3}
SORT=${SORT:-1}
DIR=${DIR:-/tmp/streamstat-bench}
mkdir -p "$DIR/bin"
export LC_ALL=C

echo "== build"
go build -o "$DIR/bin/streamstat" ./cmd/streamstat
go build -o "$DIR/bin/naive" ./cmd/streamstat/internal/naive
go build -o "$DIR/bin/zipfgen" ./cmd/streamstat/internal/zipfgen
go build -o "$DIR/bin/benchrun" ./cmd/streamstat/internal/benchrun
B=$DIR/bin
IN=$DIR/zipf-n$N-k$KEYS-s$S.txt
if [ ! -s "$IN" ]; then
	echo "== generate $IN"
	"$B/zipfgen" -n "$N" -keys "$KEYS" -s "$S" >"$IN.tmp"
	mv "$IN.tmp" "$IN"
fi
cat "$IN" >/dev/null # into the page cache
echo "input: $N lines, $(du -h "$IN" | cut -f1), Zipf s=$S over $KEYS keys; $(nproc) CPUs; $(go version | cut -d' ' -f3)"

# measure NAME COMMAND: runs COMMAND (stdout discarded, except the last
# run's, kept in $DIR/NAME.out) and records the best wall time, its CPU
# time and the largest peak RSS.
declare -A WALL CPU RSS
measure() {
	local name=$1 cmd=$2 line wall cpu rss
	line=$("$B/benchrun" "$cmd >$DIR/$name.out" 2>&1 >/dev/null | tail -1)
	wall=${line#wall_s=}
	wall=${wall%% *}
	cpu=${line#*cpu_s=}
	cpu=${cpu%% *}
	rss=${line#*maxrss_kib=}
	if [ -z "${WALL[$name]:-}" ] || awk "BEGIN{exit !($wall < ${WALL[$name]})}"; then
		WALL[$name]=$wall
		CPU[$name]=$cpu
	fi
	if [ -z "${RSS[$name]:-}" ] || [ "$rss" -gt "${RSS[$name]}" ]; then
		RSS[$name]=$rss
	fi
}

GO_CMDS=(
	"naive-distinct|$B/naive distinct $IN"
	"distinct-file|$B/streamstat distinct $IN"
	"naive-distinct-stdin|cat $IN | $B/naive distinct"
	"distinct-stdin|cat $IN | $B/streamstat distinct"
	"naive-top|$B/naive top $IN"
	"top-file|$B/streamstat top $IN"
	"top-stdin|cat $IN | $B/streamstat top"
)
for r in $(seq "$RUNS"); do
	echo "== round $r of $RUNS"
	for c in "${GO_CMDS[@]}"; do
		measure "${c%%|*}" "${c#*|}"
	done
done
if [ "$SORT" != 0 ]; then
	echo "== sort pipelines (once each)"
	measure sort-u "sort -u $IN | wc -l"
	measure sort-uniq "sort $IN | uniq -c | sort -rn | head"
fi

ratio() { awk "BEGIN{printf \"%.3f\", $1 / $2}"; }
row() {
	local name=$1
	[ -n "${WALL[$name]:-}" ] || return 0
	printf "%-22s %9.3f %9.3f %10.1f  %s\n" "$name" "${WALL[$name]}" "${CPU[$name]}" "$(awk "BEGIN{print ${RSS[$name]}/1024}")" "${2:-}"
}
echo
echo "== results (best of $RUNS rounds; N=$N)"
printf "%-22s %9s %9s %10s  %s\n" command wall_s cpu_s peak_MiB "ratio"
row naive-distinct "1 (baseline for distinct)"
row distinct-file "$(ratio "${WALL[distinct-file]}" "${WALL[naive-distinct]}") x naive (target <= 0.45)"
row naive-distinct-stdin "$(ratio "${WALL[naive-distinct-stdin]}" "${WALL[naive-distinct]}") x naive"
row distinct-stdin "$(ratio "${WALL[distinct-stdin]}" "${WALL[naive-distinct]}") x naive (target <= 0.6); $(ratio "${WALL[distinct-stdin]}" "${WALL[naive-distinct-stdin]}") x naive on stdin"
row naive-top "1 (baseline for top)"
row top-file "$(ratio "${WALL[top-file]}" "${WALL[naive-top]}") x naive top (target <= 0.8)"
row top-stdin "$(ratio "${WALL[top-stdin]}" "${WALL[naive-top]}") x naive top"
if [ "$SORT" != 0 ]; then
	row sort-u "$(ratio "${WALL[sort-u]}" "${WALL[distinct-file]}") x streamstat distinct (target >= 20)"
	row sort-uniq "$(ratio "${WALL[sort-uniq]}" "${WALL[top-file]}") x streamstat top (target >= 20)"
fi
echo "peak memory of distinct: file $(awk "BEGIN{print ${RSS[distinct-file]}/1024}") MiB, stdin $(awk "BEGIN{print ${RSS[distinct-stdin]}/1024}") MiB (target <= 64)"

echo
echo "== answers"
sed -n 1,2p "$DIR/distinct-file.out"
if [ "$SORT" != 0 ]; then
	exact=$(tr -d ' ' <"$DIR/sort-u.out")
	"$B/streamstat" distinct --format csv "$IN" | tail -1 | awk -F, -v x="$exact" \
		'{ printf "exact distinct %d: %s the printed bounds [%d, %d] (estimate off by %+.3f%%)\n", x, (x >= $2 && x <= $3) ? "inside" : "OUTSIDE", $2, $3, 100 * ($1 - x) / x }'
	echo "top 10, streamstat vs sort | uniq -c:"
	"$B/streamstat" top --format csv "$IN" | awk -F, 'NR > 1 { print $3, $2 }' >"$DIR/top.cmp"
	awk '{ print $1, $2 }' "$DIR/sort-uniq.out" | diff - "$DIR/top.cmp" >/dev/null &&
		echo "  identical keys and counts" || { echo "  DIFFERENT:"; paste -d'|' "$DIR/sort-uniq.out" "$DIR/top.cmp"; }
fi
