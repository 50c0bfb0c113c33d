#!/usr/bin/env bash
# bench-speed.sh: streamstat distinct and top against the naive loop
# (cmd/streamstat/internal/naive: bufio ReadSlice, xxhash of the line, the
# same sketch, one goroutine) and `wc -l`, on keys of every length (issue
# 16), all in one run, and prints one table of medians and ratios.
#
#   scripts/bench-speed.sh                 # RUNS=3 rounds
#   RUNS=5 scripts/bench-speed.sh          # the README's figures
#   ONLY="k32 go" scripts/bench-speed.sh   # some inputs only
#   OLD=/path/to/old/streamstat scripts/bench-speed.sh
#                                          # also an older build's distinct
#                                          # and top: columns old/nv and
#                                          # oldT/nv, their CPU / naive's
#
# Inputs (made once by cmd/streamstat/internal/keygen, kept in DIR):
# kL is L-byte keys, mL lengths uniform in [L/2, 3L/2], go the tokens of
# the Go source tree; about MB megabytes each (default 256; go is ~52 MB).
# Keys are drawn from n/2 distinct ones, so the HLL turns dense.
#
# Each round runs every command on every input once, in turn, so noise
# from other work on the machine spreads over all of them; a figure is the
# median of the rounds, and "spread" the largest (max-min)/median over the
# rounds of the streamstat distinct commands, a measure of that noise.
# CPU is user+system of every process of the command; RSS the largest
# process's peak. Columns:
#   cpu/nv    distinct CPU / naive distinct CPU         (target <= 0.6)
#   c1/nv     distinct -j 1 CPU / naive CPU: the work per core alone,
#             without what a second worker costs
#   mfl       drain FILE CPU / naive CPU: mapping the file and reading
#             every cache line of it once (internal/drain), the floor of
#             any reader through a map, before a newline or hash
#   wall/nv   distinct wall / naive wall                (target <= 0.35)
#   pipe/nv   cat|distinct wall / cat|naive wall        (target <= 0.45)
#   pfl       cat|drain wall / cat|naive wall: the least pipe/nv can be
#             on this machine (internal/drain reads the pipe as streamstat
#             does and discards it: no reader ends before cat has written)
#   top/nv    top CPU / naive top CPU                   (target <= 0.8)
#   wc        distinct wall / wc -l wall                (target <= 3, L >= 16)
#   j1/j2     distinct -j 1 wall / -j N wall            (target >= 1.85 at N=2)
#   jmax      the most j1/j2 can be with start-up S (the wall time of
#             distinct on an empty file) run once: d1 / (S + (d1 - S) / N)
#   Mrec/s/c  records per second per core of distinct at -j N
#   MiB       peak RSS of distinct, file and stdin      (target <= 64)
# The script also checks that streamstat's distinct estimate equals the
# naive loop's (same hash, same HLL: the same registers) on every input,
# and with OLD that top's output is the older build's, byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
MB=${MB:-256}
DIR=${DIR:-/tmp/streamstat-speed}
ONLY=${ONLY:-}
mkdir -p "$DIR/bin"
export LC_ALL=C
J=$(nproc)

if [ -z "${REPORT_ONLY:-}${NOBUILD:-}" ]; then # NOBUILD=1: the binaries in DIR/bin
	echo "== build" >&2
	for p in streamstat internal/naive internal/keygen internal/benchrun internal/drain; do
		go build -o "$DIR/bin/${p##*/}" "./cmd/streamstat/${p#streamstat}"
	done
fi
B=$DIR/bin

INPUTS=()
for L in 4 8 16 32 64 128; do
	INPUTS+=("k$L" "m$L")
done
INPUTS+=(go)
if [ -n "$ONLY" ]; then
	read -r -a INPUTS <<<"$ONLY"
fi
declare -A LINES
for in in "${INPUTS[@]}"; do
	f=$DIR/$in-$MB.txt
	if [ ! -s "$f" ]; then
		echo "== generate $f" >&2
		case $in in
		go) "$B/keygen" -gotokens -n 12200000 >"$f.tmp" ;;
		k*) L=${in#k}; "$B/keygen" -len "$L" -n $((MB * 1000000 / (L + 1))) >"$f.tmp" ;;
		m*) L=${in#m}; "$B/keygen" -len "$L" -mixed -n $((MB * 1000000 / (L + 1))) >"$f.tmp" ;;
		esac
		mv "$f.tmp" "$f"
	fi
	LINES[$in]=$(wc -l <"$f")
done

# measure KEY COMMAND: runs COMMAND once, stdout to $DIR/out/KEY, and
# appends "wall cpu rss" to $DIR/runs/KEY.
if [ -z "${REPORT_ONLY:-}" ]; then # REPORT_ONLY=1: the table of the last run again
	rm -rf "$DIR/runs" "$DIR/out"
fi
mkdir -p "$DIR/runs" "$DIR/out"
: >"$DIR/empty.txt"
measure() {
	local key=$1 cmd=$2 line wall cpu rss
	line=$("$B/benchrun" "$cmd >$DIR/out/$key" 2>&1 >/dev/null | tail -1)
	wall=${line#wall_s=}
	wall=${wall%% *}
	cpu=${line#*cpu_s=}
	cpu=${cpu%% *}
	rss=${line#*maxrss_kib=}
	echo "$wall $cpu $rss" >>"$DIR/runs/$key"
}

if [ -n "${REPORT_ONLY:-}" ]; then
	RUNS=$(wc -l <"$DIR/runs/${INPUTS[0]}.d")
else
	for r in $(seq "$RUNS"); do
		echo "== round $r of $RUNS" >&2
		measure start.d "$B/streamstat distinct $DIR/empty.txt"
		measure start.nv "$B/naive distinct $DIR/empty.txt"
		for in in "${INPUTS[@]}"; do
			f=$DIR/$in-$MB.txt
			cat "$f" >/dev/null # into the page cache
			measure "$in.wc" "wc -l $f"
			measure "$in.nv" "$B/naive distinct $f"
			measure "$in.d" "$B/streamstat distinct $f"
			measure "$in.d1" "$B/streamstat distinct -j 1 $f"
			measure "$in.mf" "$B/drain $f"
			[ -n "${OLD:-}" ] && measure "$in.old" "$OLD distinct $f"
			measure "$in.nvp" "cat $f | $B/naive distinct"
			measure "$in.cc" "cat $f | $B/drain"
			measure "$in.dp" "cat $f | $B/streamstat distinct"
			measure "$in.nvt" "$B/naive top $f"
			measure "$in.t" "$B/streamstat top $f"
			[ -n "${OLD:-}" ] && measure "$in.oldt" "$OLD top $f"
		done
	done
fi

# med KEY COL: the median of column COL (1 wall, 2 cpu, 3 rss) of KEY's runs.
med() { awk -v c="$2" '{ print $c }' "$DIR/runs/$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# spread KEY: (max - min) / median of KEY's wall times.
spread() { awk '{ print $1 }' "$DIR/runs/$1" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print (v[NR] - v[1]) / m }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "== medians of $RUNS rounds; $J CPUs; $(go version | cut -d' ' -f3); ~$MB MB per input; times in s"
printf "%-4s %9s %6s | %6s %6s | %6s %6s %6s %5s %4s %7s | %6s %6s %7s %4s | %6s %6s %6s | %5s | %6s %5s %4s %8s | %4s %4s%s\n" \
	input lines wc nvWall nvCPU dWall dCPU cpu/nv c1/nv mfl wall/nv nvPipe dPipe pipe/nv pfl nvTopC topCPU top/nv wc d1Wall j1/j2 jmax Mrec/s/c MiB MiBp "${OLD:+ | old/nv oldT/nv}"
start=$(med start.d 1)
worst=0
mismatch=""
topdiff=""
for in in "${INPUTS[@]}"; do
	n=${LINES[$in]}
	wc=$(med "$in.wc" 1)
	nvw=$(med "$in.nv" 1) nvc=$(med "$in.nv" 2)
	dw=$(med "$in.d" 1) dc=$(med "$in.d" 2)
	d1=$(med "$in.d1" 1)
	nvp=$(med "$in.nvp" 1) dp=$(med "$in.dp" 1)
	nvt=$(med "$in.nvt" 2) tc=$(med "$in.t" 2)
	rss=$(med "$in.d" 3) rssp=$(med "$in.dp" 3)
	old=""
	[ -f "$DIR/runs/$in.old" ] && old=" | $(div "$(med "$in.old" 2)" "$nvc")"
	[ -f "$DIR/runs/$in.oldt" ] && old="$old $(printf %8s "$(div "$(med "$in.oldt" 2)" "$nvt")")"
	if [ -f "$DIR/out/$in.oldt" ] && ! cmp -s "$DIR/out/$in.t" "$DIR/out/$in.oldt"; then
		topdiff="$topdiff $in"
	fi
	printf "%-4s %9d %6.3f | %6.3f %6.3f | %6.3f %6.3f %6s %5s %4s %7s | %6.3f %6.3f %7s %4s | %6.3f %6.3f %6s | %5s | %6.3f %5s %4s %8s | %4d %4d%s\n" \
		"$in" "$n" "$wc" "$nvw" "$nvc" "$dw" "$dc" "$(div "$dc" "$nvc")" "$(div "$(med "$in.d1" 2)" "$nvc")" "$(div "$(med "$in.mf" 2)" "$nvc")" "$(div "$dw" "$nvw")" \
		"$nvp" "$dp" "$(div "$dp" "$nvp")" "$(div "$(med "$in.cc" 1)" "$nvp")" "$nvt" "$tc" "$(div "$tc" "$nvt")" "$(div "$dw" "$wc")" \
		"$d1" "$(div "$d1" "$dw")" "$(awk -v d="$d1" -v s="$start" -v j="$J" 'BEGIN { printf "%.2f", d / (s + (d - s) / j) }')" "$(awk -v n="$n" -v w="$dw" -v j="$J" 'BEGIN { printf "%.1f", n / w / j / 1e6 }')" \
		$((rss / 1024)) $((rssp / 1024)) "$old"
	for k in d d1 dp; do
		s=$(spread "$in.$k")
		worst=$(awk -v a="$worst" -v b="$s" 'BEGIN { print (b > a) ? b : a }')
	done
	# The same registers give the same estimate: the naive loop prints
	# "distinct V [L, U] @0.95", streamstat "distinct  V  (95% bounds L .. U)".
	a=$(awk '$1 == "distinct" { print $2 }' "$DIR/out/$in.nv")
	b=$(awk '$1 == "distinct" { print $2 }' "$DIR/out/$in.d")
	c=$(awk '$1 == "distinct" { print $2 }' "$DIR/out/$in.dp")
	if [ "$a" != "$b" ] || [ "$a" != "$c" ]; then
		mismatch="$mismatch $in(naive $a, file $b, stdin $c)"
	fi
done
ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", 1000 * s }'; }
echo "start-up (distinct of an empty file): streamstat $(ms "$(med start.d 2)") CPU, $(ms "$(med start.d 1)") wall; naive $(ms "$(med start.nv 2)") CPU, $(ms "$(med start.nv 1)") wall"
echo "noise: the largest (max-min)/median of a streamstat distinct wall time over the rounds: $(awk -v w="$worst" 'BEGIN { printf "%.0f%%", 100 * w }')"
if [ -n "$mismatch" ]; then
	echo "DIFFERENT distinct estimates:$mismatch"
	exit 1
fi
echo "distinct estimates: streamstat (file and stdin) equal the naive loop's on every input"
if [ -n "$topdiff" ]; then
	echo "DIFFERENT top output from OLD's:$topdiff"
	exit 1
fi
if [ -f "$DIR/out/${INPUTS[0]}.oldt" ]; then
	echo "top output: the same bytes as OLD's on every input"
fi
