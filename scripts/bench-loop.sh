#!/usr/bin/env bash
# bench-loop.sh: measures the decision loop against a sandbox in ANOTHER
# process whose every response comes after LATENCY (default 50ms):
#
#  1. `uar parse-decisions && uar revoke` for a review in which owners asked
#     for REVOCATIONS (default 20) removals: wall time of the two commands
#     (target: under 5 s), with the outcomes counted from the store.
#  2. `uar watch --interval 5s`: from a REVOKE comment posted while watch
#     runs to the revocation proven and the red panel on the review page
#     (the page's "updated" publication in the store): WATCH_SAMPLES
#     samples, the median (target: under 10 s).
#
# Usage: scripts/bench-loop.sh             (from anywhere in the repo)
# Knobs (environment): RUNS=3 LATENCY=50ms REVOCATIONS=20 WATCH_SAMPLES=5
#   USERS=300 SOX_GROUPS=18 MEMBERSHIPS=1500 SEED=1 KEEP=1 (keep temp dirs)
set -euo pipefail

RUNS=${RUNS:-3}
LATENCY=${LATENCY:-50ms}
REVOCATIONS=${REVOCATIONS:-20}
WATCH_SAMPLES=${WATCH_SAMPLES:-5}
USERS=${USERS:-300}
SOX_GROUPS=${SOX_GROUPS:-18}
MEMBERSHIPS=${MEMBERSHIPS:-1500}
SEED=${SEED:-1}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uar-bench-loop.XXXXXX")
watchpid=""
cleanup() {
	if [[ -n "$watchpid" ]] && kill -0 "$watchpid" 2>/dev/null; then
		kill -TERM "$watchpid" 2>/dev/null || true
		wait "$watchpid" 2>/dev/null || true
	fi
	for d in "$tmp"/run*; do
		[[ -f "$d/sandbox.pid" ]] && "$tmp/uar" sandbox stop --dir "$d" >/dev/null 2>&1 || true
	done
	if [[ "${KEEP:-}" == 1 ]]; then
		echo "bench-loop: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT INT TERM

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
now() { date +%s.%N; }
sql() { "$tmp/uar" query --sql "$1"; } # tab-separated, header first

(cd "$root" && go build -o "$tmp/uar" ./cmd/uar)
uar=$tmp/uar

# setup DIR: a detached sandbox with latency, a published review, and the
# owner of every system; prints nothing.
setup() {
	local dir=$1
	mkdir -p "$dir"
	"$uar" sandbox --detach --dir "$dir" --latency "$LATENCY" \
		--generate "users=$USERS,groups=$SOX_GROUPS,memberships=$MEMBERSHIPS,seed=$SEED" >/dev/null
	(cd "$dir" && . ./sandbox.env && "$uar" snapshot -q >/dev/null && "$uar" score -q >/dev/null && "$uar" publish -q >/dev/null)
}

echo "bench-loop: latency $LATENCY, $REVOCATIONS revocations, org users=$USERS groups=$SOX_GROUPS memberships=$MEMBERSHIPS"
loop_walls=()
for run in $(seq 1 "$RUNS"); do
	dir=$tmp/run$run
	setup "$dir"
	mapfile -t lines < <(revocable_targets "$tmp/uar" "$dir" "$REVOCATIONS")
	if (( ${#lines[@]} < REVOCATIONS )); then
		echo "bench-loop: only ${#lines[@]} single-system users to revoke (want $REVOCATIONS); grow the org" >&2
		exit 1
	fi
	for l in "${lines[@]}"; do
		read -r key owner user <<<"$l"
		(cd "$dir" && . ./sandbox.env && "$uar" sandbox comment --ticket "$key" --as "$owner" "REVOKE: $user -- bench" >/dev/null)
	done
	t0=$(now)
	(cd "$dir" && . ./sandbox.env && "$uar" parse-decisions -q >/dev/null && "$uar" revoke -q >/dev/null)
	t1=$(now)
	done_n=$(cd "$dir" && sql "SELECT count(*) FROM v_revocations WHERE status = 'done' AND verified_at <> ''" | tail -1)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b-a}')
	echo "run $run: parse-decisions+revoke ${wall}s, $done_n revocations done and proven"
	if (( done_n != REVOCATIONS )); then
		echo "bench-loop: expected $REVOCATIONS revocations done, got $done_n" >&2
		exit 1
	fi
	loop_walls+=("$wall")
	(cd "$dir" && "$uar" sandbox stop --dir . >/dev/null)
done
loop_median=$(printf '%s\n' "${loop_walls[@]}" | median)

# watch: one sandbox, watch in the background, one comment at a time.
dir=$tmp/run-watch
setup "$dir"
mapfile -t lines < <(revocable_targets "$tmp/uar" "$dir" "$WATCH_SAMPLES")
(cd "$dir" && . ./sandbox.env && exec "$uar" watch --interval 5s >"$dir/watch.log" 2>&1) &
watchpid=$!
pages() { (cd "$dir" && sql "SELECT count(*) FROM publications WHERE service = 'confluence' AND kind = 'page' AND action = 'updated'" | tail -1); }
# Wait for the first pass (which reads every ticket) to be recorded.
deadline=$(( $(date +%s) + 120 ))
until grep -q "parse-decisions\|revoke\|watch:" "$dir/watch.log" 2>/dev/null || (( $(date +%s) > deadline )); do sleep 0.2; done
sleep 6
watch_walls=()
for l in "${lines[@]}"; do
	read -r key owner user <<<"$l"
	before=$(pages)
	t0=$(now)
	(cd "$dir" && . ./sandbox.env && "$uar" sandbox comment --ticket "$key" --as "$owner" "REVOKE: $user -- bench" >/dev/null)
	deadline=$(( $(date +%s) + 60 ))
	while (( $(pages) == before )); do
		if (( $(date +%s) > deadline )); then
			echo "bench-loop: no revocation panel 60 s after the comment on $key; watch log:" >&2
			cat "$dir/watch.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	t1=$(now)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b-a}')
	echo "watch: comment on $key to panel ${wall}s"
	watch_walls+=("$wall")
done
kill -TERM "$watchpid"
wait "$watchpid" || { echo "bench-loop: watch exited $? on SIGTERM" >&2; exit 1; }
watchpid=""
watch_median=$(printf '%s\n' "${watch_walls[@]}" | median)

echo "median parse-decisions+revoke (${REVOCATIONS} revocations, ${LATENCY}/call): ${loop_median}s over $RUNS runs (target < 5 s)"
echo "median watch comment-to-panel (--interval 5s, ${LATENCY}/call): ${watch_median}s over ${#watch_walls[@]} samples (target < 10 s)"
