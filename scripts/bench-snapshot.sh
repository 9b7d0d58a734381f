#!/usr/bin/env bash
# bench-snapshot.sh: measures `uar snapshot` against the sandbox Okta running
# in ANOTHER process on loopback, serving a generated org (default 50,000
# users, 400 SOX groups, about 500,000 SOX memberships), page size 1000, and
# beside it the floor: scripts/floor, the same pages read through
# okta-sdk-golang with nothing kept. Rounds interleave the two (the order
# alternates), and the figures to quote are uar's ratios to the floor from
# the same rounds, not absolute times on a shared machine.
#
# Targets (issue "Snapshot at the speed of the API"): CPU <= 1.5x and wall
# <= 1.3x the floor's, peak RSS <= 200 MB; `verify --rederive` <= 400 MB;
# and, as before, API calls no more than 1% above the minimum.
#
# Usage: scripts/bench-snapshot.sh            (from anywhere in the repo)
# Knobs (environment): RUNS=3 USERS=50000 SOX_GROUPS=400 MEMBERSHIPS=500000
#   SEED=1 PAGE_SIZE=1000 CONCURRENCY=4 LATENCY=0s KEEP=1 (keep the temp dir)
#   VERIFY=1 (also time `uar verify --rederive` on the last store; 0 skips)
#   BENCH_RSS=proc (sample VmHWM from /proc instead of GNU time -v; no CPU)
#
# Prints one line per round (uar: wall s, peak RSS MiB, API calls, minimum
# calls, memberships, CPU s; the floor's wall, CPU and RSS; uar/floor wall
# and CPU ratios), the median of each column, and the targets. Each round
# writes a fresh store, so every round does the same work.
set -euo pipefail

RUNS=${RUNS:-3}
USERS=${USERS:-50000}
SOX_GROUPS=${SOX_GROUPS:-400}
# The memberships of the 400 SOX groups the snapshot reads, exactly (the
# generator adds the 20 non-SOX groups' members on top).
MEMBERSHIPS=${MEMBERSHIPS:-500000}
SEED=${SEED:-1}
PAGE_SIZE=${PAGE_SIZE:-1000}
CONCURRENCY=${CONCURRENCY:-4}
LATENCY=${LATENCY:-0s}
VERIFY=${VERIFY:-1}

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

# Peak RSS and CPU: GNU time -v (see lib.sh), else /proc sampling.
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
bench_timer_init

echo "bench: building uar and the floor" >&2
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/uar" ./cmd/uar && CGO_ENABLED=0 go build -o "$tmp/floor" ./scripts/floor)
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
orgurl=$(sed -n 's/^okta //p' "$tmp/ready")

# The sandbox's fake token, and the Okta settings under test (environment
# overrides beat whatever the written uar.yaml says).
# shellcheck disable=SC1091
. "$tmp/sb/sandbox.env"
export UAR_OKTA_PAGE_SIZE="$PAGE_SIZE" UAR_OKTA_CONCURRENCY="$CONCURRENCY" UAR_OKTA_MAX_REQUESTS_PER_MINUTE=0
export UAR_ACTOR=bench

# uar_round N: one uar snapshot; prints "wall cpu rss_kib calls min memberships".
uar_round() {
	local n=$1 db="$tmp/bench-$1.db" m q calls minimum members
	m=$(measure "$tmp" "snap-$n" "$uar" snapshot --config "$tmp/sb/uar.yaml" --db "$db" --json) || return 1
	q=$("$uar" query --db "$db" --sql "SELECT json_extract(query_params, '\$.stats.requests'), json_extract(query_params, '\$.stats.min_requests'), (SELECT count(*) FROM snapshot_memberships) FROM evidence WHERE kind = 'derive' AND query_name = 'snapshot.okta' ORDER BY seq DESC LIMIT 1" | tail -n 1)
	read -r calls minimum members <<<"$q"
	echo "$m $calls $minimum $members"
}

floor_round() {
	measure "$tmp" "floor-$1" "$tmp/floor" -org "$orgurl" -prefix SOX- -page-size "$PAGE_SIZE" -concurrency "$CONCURRENCY"
}

printf '%-4s %8s %8s %6s %8s %11s %7s | %8s %7s %8s | %6s %6s\n' run wall_s rss_MiB calls minimum memberships cpu_s floor_w floor_c floor_MiB r_wall r_cpu
: >"$tmp/results"
for ((r = 1; r <= RUNS; r++)); do
	if ((r % 2)); then
		f=$(floor_round "$r") || { echo "bench: floor round $r failed:" >&2; cat "$tmp/floor-$r.err" >&2; exit 1; }
		u=$(uar_round "$r") || { echo "bench: uar round $r failed:" >&2; cat "$tmp/snap-$r.err" >&2; exit 1; }
	else
		u=$(uar_round "$r") || { echo "bench: uar round $r failed:" >&2; cat "$tmp/snap-$r.err" >&2; exit 1; }
		f=$(floor_round "$r") || { echo "bench: floor round $r failed:" >&2; cat "$tmp/floor-$r.err" >&2; exit 1; }
	fi
	read -r uw uc ur calls minimum members <<<"$u"
	read -r fw fc fr <<<"$f"
	fpages=$(awk '{print $2}' "$tmp/floor-$r.out")
	[[ "$fpages" == "$calls" ]] || echo "bench: round $r: the floor read $fpages pages, uar made $calls calls" >&2
	line=$(awk -v uw="$uw" -v uc="$uc" -v ur="$ur" -v c="$calls" -v m="$minimum" -v mem="$members" -v fw="$fw" -v fc="$fc" -v fr="$fr" \
		'BEGIN { printf "%.2f %.1f %d %d %d %.2f %.2f %.2f %.1f %.3f %.3f", uw, ur / 1024, c, m, mem, uc, fw, fc, fr / 1024, uw / fw, (fc > 0 ? uc / fc : 0) }')
	echo "$line" >>"$tmp/results"
	read -r w rss c m mem cpu fw fc frss rw rc <<<"$line"
	printf '%-4s %8.2f %8.1f %6d %8d %11d %7.2f | %8.2f %7.2f %8.1f | %6.2f %6.2f\n' "$r" "$w" "$rss" "$c" "$m" "$mem" "$cpu" "$fw" "$fc" "$frss" "$rw" "$rc"
done

col() { awk -v i="$1" '{print $i}' "$tmp/results" | median; }
maxrss=$(awk '{print $2}' "$tmp/results" | sort -n | tail -n 1)
printf '%-4s %8.2f %8.1f %6d %8d %11d %7.2f | %8.2f %7.2f %8.1f | %6.2f %6.2f\n' med "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)" "$(col 8)" "$(col 9)" "$(col 10)" "$(col 11)"
awk -v rw="$(col 10)" -v rc="$(col 11)" -v rss="$(col 2)" -v maxrss="$maxrss" -v c="$(col 3)" -v m="$(col 4)" -v cpu="$(col 6)" 'BEGIN {
	over = (m > 0) ? 100 * (c - m) / m : 0
	mb = rss * 1048576 / 1e6
	printf "targets (medians of the per-round ratios): CPU %.2fx the floor (<= 1.5: %s), wall %.2fx (<= 1.3: %s), peak RSS %.1f MiB = %.0f MB (<= 200 MB: %s; worst round %.1f MiB), calls %d vs minimum %d (+%.2f%%, <= 1%%: %s)\n",
		rc, (cpu < 0 ? "n/a" : (rc <= 1.5 ? "ok" : "MISSED")), rw, (rw <= 1.3 ? "ok" : "MISSED"), rss, mb, (mb <= 200 ? "ok" : "MISSED"), maxrss, c, m, over, (over <= 1 ? "ok" : "MISSED")
}'

if [[ "$VERIFY" == 1 ]]; then
	v=$(measure "$tmp" verify "$uar" verify --db "$tmp/bench-$RUNS.db" --rederive) || { echo "bench: verify --rederive failed:" >&2; cat "$tmp/verify.err" >&2; exit 1; }
	read -r vw vc vr <<<"$v"
	awk -v w="$vw" -v c="$vc" -v r="$vr" 'BEGIN { mb = r * 1024 / 1e6
		printf "verify --rederive (store of round %s): wall %.2f s, CPU %.2f s, peak RSS %.1f MiB = %.0f MB (<= 400 MB: %s)\n", ENVIRON["RUNS"], w, c, r / 1024, mb, (mb <= 400 ? "ok" : "MISSED") }'
fi
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
