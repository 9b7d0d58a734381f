#!/usr/bin/env bash
# bench-snapshot.sh: measures `uar snapshot` against the sandbox Okta running
# in ANOTHER process on loopback, serving a generated org (default 50,000
# users, 400 SOX groups, 500,000 memberships), page size 1000.
#
# Targets (issue "Okta snapshot", Measure): <= 60 s wall, <= 400 MB peak RSS,
# API calls no more than 1% above the minimum the page size allows.
#
# Usage: scripts/bench-snapshot.sh            (from anywhere in the repo)
# Knobs (environment): RUNS=3 USERS=50000 SOX_GROUPS=400 MEMBERSHIPS=500000
#   SEED=1 PAGE_SIZE=1000 CONCURRENCY=4 LATENCY=0s KEEP=1 (keep the temp dir)
#   BENCH_RSS=proc (sample VmHWM from /proc instead of GNU time -v)
#
# Prints one line per run (wall s, peak RSS MiB, API calls, minimum calls,
# memberships, memberships/s) and the median of each. Each run writes a
# fresh store, so every run does the same work.
set -euo pipefail

RUNS=${RUNS:-3}
USERS=${USERS:-50000}
SOX_GROUPS=${SOX_GROUPS:-400}
# Memberships are spread over the SOX and the 20 non-SOX groups the generator
# adds; 545,000 in all puts about 500,000 in the 400 SOX groups the snapshot reads.
MEMBERSHIPS=${MEMBERSHIPS:-545000}
SEED=${SEED:-1}
PAGE_SIZE=${PAGE_SIZE:-1000}
CONCURRENCY=${CONCURRENCY:-4}
LATENCY=${LATENCY:-0s}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uar-bench.XXXXXX")
sbpid=""
cleanup() {
	# Stop only the sandbox this script started, by its pid.
	if [[ -n "$sbpid" ]] && kill -0 "$sbpid" 2>/dev/null; then
		kill -TERM "$sbpid" 2>/dev/null || true
		wait "$sbpid" 2>/dev/null || true
	fi
	if [[ "${KEEP:-}" == 1 ]]; then
		echo "bench: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT INT TERM

# Peak RSS: GNU time -v if present (installed with apt-get only when absent
# and running as root), else /proc polling of VmHWM.
timer=""
if [[ "${BENCH_RSS:-}" == proc ]]; then
	: # forced /proc sampling (to compare, or to test the fallback)
elif [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
	timer=/usr/bin/time
elif [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
	echo "bench: installing GNU time (apt-get install -y time)" >&2
	if apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y time >/dev/null 2>&1; }; then
		timer=/usr/bin/time
	fi
fi
if [[ -z "$timer" ]]; then
	echo "bench: no GNU time -v: peak RSS is sampled from /proc/PID/status VmHWM every 50 ms" >&2
fi

echo "bench: building uar" >&2
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/uar" ./cmd/uar)
uar="$tmp/uar"

gen="users=$USERS,groups=$SOX_GROUPS,memberships=$MEMBERSHIPS,seed=$SEED"
echo "bench: starting the sandbox Okta ($gen, latency $LATENCY)" >&2
"$uar" sandbox --okta-only --generate "$gen" --latency "$LATENCY" --dir "$tmp/sb" \
	--ready-file "$tmp/ready" >"$tmp/sandbox.out" 2>"$tmp/sandbox.err" &
sbpid=$!
for ((i = 0; i < 1200; i++)); do
	[[ -f "$tmp/ready" ]] && break
	if ! kill -0 "$sbpid" 2>/dev/null; then
		echo "bench: the sandbox exited before it was ready:" >&2
		cat "$tmp/sandbox.err" >&2
		exit 1
	fi
	sleep 0.1
done
[[ -f "$tmp/ready" ]] || { echo "bench: sandbox not ready after 120 s" >&2; exit 1; }
grep '^okta ' "$tmp/ready" >&2
sed -n 1p "$tmp/sandbox.err" >&2

# The sandbox's fake token, and the Okta settings under test (environment
# overrides beat whatever the written uar.yaml says).
# shellcheck disable=SC1091
. "$tmp/sb/sandbox.env"
export UAR_OKTA_PAGE_SIZE="$PAGE_SIZE" UAR_OKTA_CONCURRENCY="$CONCURRENCY" UAR_OKTA_MAX_REQUESTS_PER_MINUTE=0
export UAR_ACTOR=bench

# run_one N: runs one snapshot; prints "wall_s rss_mb calls min memberships".
run_one() {
	local n=$1 db="$tmp/bench-$1.db" t0 t1 rss=0 pid
	t0=$(date +%s%N)
	if [[ -n "$timer" ]]; then
		"$timer" -v -o "$tmp/time-$n.txt" "$uar" snapshot --config "$tmp/sb/uar.yaml" --db "$db" --json \
			>"$tmp/snap-$n.json" 2>"$tmp/snap-$n.err"
		t1=$(date +%s%N)
		rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time-$n.txt")
	else
		"$uar" snapshot --config "$tmp/sb/uar.yaml" --db "$db" --json >"$tmp/snap-$n.json" 2>"$tmp/snap-$n.err" &
		pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			local v
			v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
			[[ -n "$v" && "$v" -gt "$rss" ]] && rss=$v
			sleep 0.05
		done
		wait "$pid"
		t1=$(date +%s%N)
	fi
	local q
	q=$("$uar" query --db "$db" --sql "SELECT json_extract(query_params, '\$.stats.requests'), json_extract(query_params, '\$.stats.min_requests'), (SELECT count(*) FROM snapshot_memberships) FROM evidence WHERE kind = 'derive' AND query_name = 'snapshot.okta' ORDER BY seq DESC LIMIT 1" | tail -n 1)
	local calls minimum members
	read -r calls minimum members <<<"$q"
	awk -v t0="$t0" -v t1="$t1" -v rss="$rss" -v c="$calls" -v m="$minimum" -v mem="$members" \
		'BEGIN { printf "%.2f %.1f %d %d %d\n", (t1 - t0) / 1e9, rss / 1024, c, m, mem }'
}

printf '%-4s %9s %9s %9s %9s %12s %14s\n' run wall_s rss_MiB calls minimum memberships memberships/s
: >"$tmp/results"
for ((r = 1; r <= RUNS; r++)); do
	line=$(run_one "$r") || { echo "bench: run $r failed:" >&2; cat "$tmp/snap-$r.err" >&2; exit 1; }
	echo "$line" >>"$tmp/results"
	read -r wall rss calls minimum members <<<"$line"
	awk -v r="$r" -v w="$wall" -v rss="$rss" -v c="$calls" -v m="$minimum" -v mem="$members" \
		'BEGIN { printf "%-4s %9.2f %9.1f %9d %9d %12d %14.0f\n", r, w, rss, c, m, mem, mem / w }'
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mwall=$(awk '{print $1}' "$tmp/results" | median)
mrss=$(awk '{print $2}' "$tmp/results" | median)
mcalls=$(awk '{print $3}' "$tmp/results" | median)
mmin=$(awk '{print $4}' "$tmp/results" | median)
mmem=$(awk '{print $5}' "$tmp/results" | median)
mrate=$(awk '{print $5 / $1}' "$tmp/results" | median)
maxrss=$(awk '{print $2}' "$tmp/results" | sort -n | tail -n 1)
awk -v w="$mwall" -v rss="$mrss" -v maxrss="$maxrss" -v c="$mcalls" -v m="$mmin" -v mem="$mmem" -v rate="$mrate" 'BEGIN {
	printf "%-4s %9.2f %9.1f %9d %9d %12d %14.0f\n", "med", w, rss, c, m, mem, rate
	over = (m > 0) ? 100 * (c - m) / m : 0
	printf "targets (medians): wall %.2f s (<= 60: %s), peak RSS %.1f MiB (<= 400: %s; worst run %.1f MiB), calls %d vs minimum %d (+%.2f%%, <= 1%%: %s)\n",
		w, (w <= 60 ? "ok" : "MISSED"), rss, (rss <= 400 ? "ok" : "MISSED"), maxrss, c, m, over, (over <= 1 ? "ok" : "MISSED")
}'
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
