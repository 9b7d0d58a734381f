#!/usr/bin/env bash
# bench.sh: every uar command, each in its own process, against a sandbox
# serving a generated org in ANOTHER process, at several org sizes. Prints,
# per size and command, the median wall time and the median peak RSS over
# RUNS runs (each run a fresh sandbox and a fresh store, so every run does
# the same work), and the machine it ran on.
#
# The loop per run: snapshot, score, publish; an owner's REVOKE for
# REVOCATIONS people and a CERTIFY: all on their tickets (posted with 'uar
# sandbox comment', not timed); parse-decisions, revoke, remind, report
# (XLSX), a second review's snapshot and score (the population after the
# revocations), diff of the two, verify, verify --rederive and the access
# query.
#
# Usage: scripts/bench.sh                  (from anywhere in the repo)
# Knobs (environment): SIZES="1000 10000 50000" (users) RUNS=3
#   REVOCATIONS=10 LATENCY=0s SEED=1 KEEP=1 (keep the temp dir)
#   COMMANDS="snapshot score ..." (a subset, in loop order)
#   BENCH_RSS=proc (sample VmHWM from /proc instead of GNU time -v)
# Org shape per size: users=N, SOX groups = max(40, N/100), memberships =
# 10 x N over the SOX groups.
set -euo pipefail

SIZES=${SIZES:-1000 10000 50000}
RUNS=${RUNS:-3}
REVOCATIONS=${REVOCATIONS:-10}
LATENCY=${LATENCY:-0s}
SEED=${SEED:-1}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uar-bench.XXXXXX")
uar=$tmp/uar
cleanup() {
	for d in "$tmp"/*/; do
		[[ -f "$d/sandbox.pid" ]] && "$uar" sandbox stop --dir "$d" >/dev/null 2>&1 || true
	done
	if [[ "${KEEP:-}" == 1 ]]; then
		echo "bench: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT INT TERM

bench_timer_init
echo "bench: building uar" >&2
(cd "$root" && CGO_ENABLED=0 go build -o "$uar" ./cmd/uar)

first=2026-Q4 second=2027-Q1
read -r -a commands <<<"${COMMANDS:-snapshot score publish parse-decisions revoke remind report snapshot-2 score-2 diff verify verify-rederive query-access}"

# run_command DIR NAME: one timed command of the loop, in DIR.
run_command() {
	local dir=$1 name=$2
	local -a args
	case $name in
	snapshot) args=(snapshot --review "$first") ;;
	score) args=(score --review "$first") ;;
	publish) args=(publish --review "$first") ;;
	parse-decisions) args=(parse-decisions --review "$first") ;;
	revoke) args=(revoke --review "$first" --max "$((2 * REVOCATIONS))") ;;
	remind) args=(remind --review "$first") ;;
	report) args=(report --review "$first" -o "$dir/report.xlsx") ;;
	snapshot-2) args=(snapshot --review "$second") ;;
	score-2) args=(score --review "$second") ;;
	diff) args=(diff --from "$first" --to "$second") ;;
	verify) args=(verify) ;;
	verify-rederive) args=(verify --rederive) ;;
	query-access) args=(query access --param "review=$first") ;;
	esac
	(cd "$dir" && . ./sandbox.env && measure "$dir" "$name" "$uar" "${args[@]}") || {
		echo "bench: $name failed in $dir:" >&2
		tail -n 5 "$dir/$name.err" >&2
		return 1
	}
}

# owners_decide DIR: REVOKE for REVOCATIONS people, and CERTIFY: all on
# each of their tickets, as each system's owner.
owners_decide() {
	local dir=$1 key owner user
	local -A certified=()
	mapfile -t lines < <(revocable_targets "$uar" "$dir" "$REVOCATIONS")
	for l in "${lines[@]}"; do
		read -r key owner user <<<"$l"
		(cd "$dir" && "$uar" sandbox comment --ticket "$key" --as "$owner" "REVOKE: $user -- bench" >/dev/null)
		if [[ -z "${certified[$key]:-}" ]]; then
			(cd "$dir" && "$uar" sandbox comment --ticket "$key" --as "$owner" "CERTIFY: all" >/dev/null)
			certified[$key]=1
		fi
	done
}

results=$tmp/results # size command run wall_s rss_kib
: >"$results"
for size in $SIZES; do
	groups=$((size / 100 > 40 ? size / 100 : 40))
	gen="users=$size,groups=$groups,memberships=$((10 * size)),seed=$SEED"
	for ((r = 1; r <= RUNS; r++)); do
		dir=$tmp/$size-$r
		mkdir -p "$dir"
		"$uar" sandbox --detach --dir "$dir" --latency "$LATENCY" --generate "$gen" >/dev/null 2>"$dir/sandbox.start"
		for name in "${commands[@]}"; do
			m=$(run_command "$dir" "$name")
			read -r wall _ rss <<<"$m"
			echo "$size $name $r $wall $rss" >>"$results"
			[[ $name == publish ]] && owners_decide "$dir"
		done
		members=$("$uar" query --db "$dir/uar.db" --sql "SELECT count(*) FROM v_access WHERE review = '$first'" | tail -n 1)
		echo "bench: $gen, run $r: $members SOX memberships reviewed" >&2
		"$uar" sandbox stop --dir "$dir" >/dev/null 2>&1
		[[ "${KEEP:-}" == 1 ]] || rm -f "$dir/uar.db" "$dir/uar.db-wal" "$dir/report.xlsx"
	done
done

printf '%-8s %-16s %10s %12s\n' users command wall_s peak_MiB
for size in $SIZES; do
	for name in "${commands[@]}"; do
		w=$(awk -v s="$size" -v c="$name" '$1 == s && $2 == c {print $4}' "$results" | median)
		m=$(awk -v s="$size" -v c="$name" '$1 == s && $2 == c {print $5 / 1024}' "$results" | median)
		printf '%-8s %-16s %10.2f %12.1f\n' "$size" "$name" "$w" "$m"
	done
done
echo "medians over $RUNS run(s); latency $LATENCY per sandbox response"
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
