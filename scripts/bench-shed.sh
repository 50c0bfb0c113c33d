#!/usr/bin/env bash
# bench-shed.sh: what --shed costs where nothing is overloaded: a file
# piped in (cat FILE | streamstat CMD) against the same with --shed, in
# interleaved pairs (the order alternates), for top, distinct and freq.
# A piped file is read faster than it is counted, yet nothing in it is
# late: --shed must cost nothing, every ratio 1 up to the machine's noise.
#
#   scripts/bench-shed.sh                  # 7 pairs per command
#
# Environment:
#   FILE   input (default /tmp/zipf20m.txt, made with zipfgen -n 20000000
#          if missing)
#   PAIRS  pairs per command (default 7)
#   CMDS   commands (default "top distinct freq")
#
# For each command it prints the median (and range) over the pairs of the
# ratios --shed / without of the wall time and of the CPU time (user +
# system of cat and streamstat, as `time (cat FILE | streamstat CMD)`
# reports), of streamstat's CPU alone (perf stat task-clock, if perf is
# installed), and the records shed.
set -euo pipefail
cd "$(dirname "$0")/.."

FILE=${FILE:-/tmp/zipf20m.txt}
PAIRS=${PAIRS:-7}
CMDS=${CMDS:-top distinct freq}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
BIN=$TMP/streamstat
go build -o "$BIN" ./cmd/streamstat
if [ ! -s "$FILE" ]; then
	echo "== making $FILE"
	nice go run ./cmd/streamstat/internal/zipfgen -n 20000000 >"$FILE"
fi
PERF=$(command -v perf || true)

args() { # the command's arguments
	case $1 in
	freq) echo "freq key-0 key-1 key-99" ;;
	*) echo "$1" ;;
	esac
}

# run CMD... : prints "wall cpu task-clock shed" of one run.
run() {
	local t err=$TMP/err tc shed # in $TMP: removed at exit, also when a run fails
	TIMEFORMAT="%R %U %S"
	if [ -n "$PERF" ]; then
		t=$({ time (cat "$FILE" | "$PERF" stat -x, -e task-clock -o "$err.perf" "$BIN" "$@" >/dev/null 2>"$err"); } 2>&1)
		tc=$(grep task-clock "$err.perf" | cut -d, -f1)
	else
		t=$({ time (cat "$FILE" | "$BIN" "$@" >/dev/null 2>"$err"); } 2>&1)
		tc=0
	fi
	shed=$(grep -o 'shed [0-9]* of' "$err" | cut -d' ' -f2 || true)
	rm -f "$err" "$err.perf"
	echo "$t ${tc:-0} ${shed:-0}" | awk '{print $1, $2+$3, $4, $5}'
}

median() { sort -n | awk '{a[NR]=$1} END{printf "%.3f (%.3f-%.3f)", a[int((NR+1)/2)], a[1], a[NR]}'; }

for cmd in $CMDS; do
	read -r -a a <<<"$(args "$cmd")"
	rw=() rc=() rt=() sheds=()
	for i in $(seq "$PAIRS"); do
		if ((i % 2)); then
			x=$(run "${a[@]}")
			y=$(run "${a[@]}" --shed)
		else
			y=$(run "${a[@]}" --shed)
			x=$(run "${a[@]}")
		fi
		read -r w0 c0 t0 _ <<<"$x"
		read -r w1 c1 t1 s1 <<<"$y"
		rw+=("$(awk -v a="$w1" -v b="$w0" 'BEGIN{print a/b}')")
		rc+=("$(awk -v a="$c1" -v b="$c0" 'BEGIN{print a/b}')")
		if [ -n "$PERF" ]; then rt+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a/b}')"); fi
		sheds+=("$s1")
	done
	echo "== $cmd --shed / $cmd, $PAIRS interleaved pairs, medians (range)"
	echo "wall        $(printf '%s\n' "${rw[@]}" | median)"
	echo "cpu         $(printf '%s\n' "${rc[@]}" | median)   (cat + streamstat, user+sys)"
	if [ -n "$PERF" ]; then
		echo "task-clock  $(printf '%s\n' "${rt[@]}" | median)   (streamstat alone)"
	fi
	echo "shed        ${sheds[*]} records"
done
