#!/usr/bin/env bash
# bench-report.sh: measures `uar report` and `uar diff` on generated reviews
# of about 500,000 memberships (50,000 users, 400 SOX groups), each taken by
# `uar snapshot` from the sandbox Okta in another process and scored by
# `uar score` with the example policy.
#
# Targets (issue "The auditor's side", Measure): report <= 30 s and
# <= 500 MB peak RSS; diff of two such reviews <= 10 s and <= 500 MB.
#
# Setup (not timed): org seed 1 is snapshotted three times: as 2026-Q3 and
# 2026-Q4 into one store (a.db: quarter over quarter, nothing changed) and
# as 2026-Q4 into b.db; org seed 2 (same users and groups, every group's
# members drawn again) as 2026-Q4 into c.db. Then RUNS times (default 3):
#   report      uar report --db b.db --review 2026-Q4 -o r.xlsx --no-record
#   report-csv  the same with -o r.zip (the SQLite side without excelize)
#   diff        uar diff --db a.db --from 2026-Q3 --to 2026-Q4 (TSV to a file)
#   diff-drift  uar diff --from-db b.db --to-db c.db (every access changed)
# under GNU time -v; prints wall seconds and peak RSS per run, the medians,
# and the rows each produced.
#
# Knobs: RUNS=3 USERS=50000 SOX_GROUPS=400 MEMBERSHIPS=500000 KEEP=1
# STORES=DIR (reuse a.db, b.db, c.db a KEEP=1 run left in DIR: no setup)
# (MEMBERSHIPS is what the SOX groups hold, exactly: the generator adds the
# non-SOX groups' members on top.)
set -euo pipefail
RUNS=${RUNS:-3}
USERS=${USERS:-50000}
SOX_GROUPS=${SOX_GROUPS:-400}
MEMBERSHIPS=${MEMBERSHIPS:-500000}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh" # median
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uar-bench-report.XXXXXX")
sbpid=""
stop_sandbox() {
	# Stop only the sandbox this script started, by its pid.
	if [[ -n "$sbpid" ]] && kill -0 "$sbpid" 2>/dev/null; then
		kill -TERM "$sbpid" 2>/dev/null || true
		wait "$sbpid" 2>/dev/null || true
	fi
	sbpid=""
}
cleanup() {
	stop_sandbox
	if [[ "${KEEP:-}" == 1 ]]; then
		echo "bench: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT INT TERM
[[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1 ||
	{ echo "bench-report: needs GNU time (apt-get install -y time)" >&2; exit 1; }

echo "bench: building uar" >&2
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/uar" ./cmd/uar)
uar="$tmp/uar"
export UAR_ACTOR=bench

# start_sandbox SEED: serves a generated org on loopback, writes sb-SEED/.
start_sandbox() {
	local seed=$1 dir="$tmp/sb-$1"
	"$uar" sandbox --okta-only --generate "users=$USERS,groups=$SOX_GROUPS,memberships=$MEMBERSHIPS,seed=$seed" \
		--dir "$dir" --ready-file "$tmp/ready-$seed" >"$tmp/sandbox-$seed.out" 2>"$tmp/sandbox-$seed.err" &
	sbpid=$!
	for ((i = 0; i < 1200; i++)); do
		[[ -f "$tmp/ready-$seed" ]] && break
		kill -0 "$sbpid" 2>/dev/null || { cat "$tmp/sandbox-$seed.err" >&2; exit 1; }
		sleep 0.1
	done
	[[ -f "$tmp/ready-$seed" ]] || { echo "bench: sandbox not ready" >&2; exit 1; }
	# shellcheck disable=SC1090
	. "$dir/sandbox.env"
	export UAR_OKTA_PAGE_SIZE=1000 UAR_OKTA_CONCURRENCY=4 UAR_OKTA_MAX_REQUESTS_PER_MINUTE=0
}

# review DB LABEL SEED: snapshot and score one review.
review() {
	local db=$1 label=$2 seed=$3
	echo "bench: snapshot + score $label into $(basename "$db") (org seed $seed)" >&2
	"$uar" snapshot --config "$tmp/sb-$seed/uar.yaml" --db "$db" --review "$label" >/dev/null 2>>"$tmp/setup.err"
	"$uar" score --config "$tmp/sb-$seed/uar.yaml" --policy "$tmp/sb-$seed/policy.yaml" --db "$db" --review "$label" \
		>/dev/null 2>>"$tmp/setup.err"
}

if [[ -n "${STORES:-}" ]]; then
	for f in a b c; do cp "$STORES/$f.db" "$tmp/$f.db"; done
else
	start_sandbox 1
	review "$tmp/a.db" 2026-Q3 1
	review "$tmp/a.db" 2026-Q4 1
	review "$tmp/b.db" 2026-Q4 1
	stop_sandbox
	start_sandbox 2
	review "$tmp/c.db" 2026-Q4 2
	stop_sandbox
fi
members=$("$uar" query --db "$tmp/b.db" --sql "SELECT count(*) FROM v_access WHERE review = '2026-Q4'" | tail -1)
echo "bench: 2026-Q4 has $members accesses; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# timed NAME OUTFILE CMD...: runs CMD under GNU time; prints "wall rss cpu"
# (cpu: user + system seconds, which the machine's other load does not
# inflate as much as the wall time).
timed() {
	local name=$1 out=$2
	shift 2
	/usr/bin/time -v -o "$tmp/time" "$@" >"$out" 2>"$tmp/$name.err" || {
		local rc=$?
		[[ $rc == 5 ]] || { cat "$tmp/$name.err" >&2; exit 1; } # 5: --fail-on is not used here
	}
	awk -F': ' '/Elapsed/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; w = s}
		/User time/ {c += $2} /System time/ {c += $2}
		/Maximum resident set size/ {r = $2 / 1024} END {printf "%.2f %.1f %.2f\n", w, r, c}' "$tmp/time"
}


printf '%-11s %4s %9s %9s %9s\n' what run wall_s rss_MiB cpu_s
for name in report report-csv diff diff-drift; do
	: >"$tmp/results-$name"
	for ((r = 1; r <= RUNS; r++)); do
		case $name in
		report) line=$(timed $name "$tmp/out" "$uar" report --db "$tmp/b.db" --review 2026-Q4 -o "$tmp/r.xlsx" --no-record) ;;
		report-csv) line=$(timed $name "$tmp/out" "$uar" report --db "$tmp/b.db" --review 2026-Q4 -o "$tmp/r.zip" --no-record) ;;
		diff) line=$(timed $name "$tmp/diff.tsv" "$uar" diff --db "$tmp/a.db" --from 2026-Q3 --to 2026-Q4) ;;
		diff-drift) line=$(timed $name "$tmp/drift.tsv" "$uar" diff --from-db "$tmp/b.db" --to-db "$tmp/c.db") ;;
		esac
		echo "$line" >>"$tmp/results-$name"
		read -r wall rss cpu <<<"$line"
		printf '%-11s %4s %9.2f %9.1f %9.2f\n' "$name" "$r" "$wall" "$rss" "$cpu"
	done
	printf '%-11s %4s %9.2f %9.1f %9.2f\n' "$name" med "$(awk '{print $1}' "$tmp/results-$name" | median)" \
		"$(awk '{print $2}' "$tmp/results-$name" | median)" "$(awk '{print $3}' "$tmp/results-$name" | median)"
done
echo "report: $(grep -o 'Access [0-9]*, Findings [0-9]*' "$tmp/report.err" | tail -1); xlsx $(stat -c %s "$tmp/r.xlsx") bytes"
echo "diff:       $(tail -1 "$tmp/diff.err")"
echo "diff-drift: $(tail -1 "$tmp/diff-drift.err"); $(($(wc -l <"$tmp/drift.tsv") - 1)) rows"
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
