#!/usr/bin/env bash
# bench-score.sh: measures `uar score` over a generated org's snapshot
# (about 500,000 SOX memberships, 50,000 users) with a 50-rule SoD policy
# plus every built-in check. Targets (issue "Risk scoring", Measure): <= 10 s
# and <= 300 MB peak RSS; and (issue "Snapshot at the speed of the API") a
# scoring pass adds <= 250 bytes per finding to the store.
#
# It takes one snapshot with scripts/bench-snapshot.sh (RUNS=1 KEEP=1), writes
# a deterministic policy of 50 SoD rules over the snapshot's first 25 systems
# (half "IT staff in <system>-Admins", half "<system>-Users together with
# <system>-Approvers"), then runs `uar score` RUNS times (default 3) under GNU
# time -v and prints wall seconds, peak RSS, the number of findings and the
# bytes the pass added to the store file per finding (each pass is kept).
set -euo pipefail
RUNS=${RUNS:-3}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh" # median
log=$(mktemp)
RUNS=1 KEEP=1 VERIFY=0 bash "$root/scripts/bench-snapshot.sh" >"$log.out" 2>"$log"
dir=$(sed -n 's/^bench: kept //p' "$log")
[[ -d "$dir" ]] || { echo "bench-score: no snapshot store:" >&2; cat "$log" >&2; exit 1; }
trap 'rm -rf "$dir" "$log" "$log.out"' EXIT
uar="$dir/uar" db="$dir/bench-1.db"
[[ -x /usr/bin/time ]] || { echo "bench-score: needs GNU time (apt-get install -y time)" >&2; exit 1; }

"$uar" query --db "$db" --sql "SELECT DISTINCT system FROM snapshot_groups ORDER BY 1 LIMIT 25" | tail -n +2 >"$dir/systems"
{
	echo "version: 1"
	echo "sod_rules:"
	i=0
	while read -r s; do
		printf '  - id: SOD-%02d\n    title: IT staff administering %s\n    risk: HIGH\n    when: {department: [IT, Engineering]}\n    groups: {any: ["SOX-%s-Admins"]}\n    recommendation: Recommend revoking SOX-%s-Admins.\n' $i "$s" "$s" "$s"
		printf '  - id: SOD-%02d\n    title: Prepare and approve in %s\n    risk: HIGH\n    groups: {all: ["SOX-%s-Users", "SOX-%s-Approvers"]}\n    recommendation: Recommend revoking one of the two.\n' $((i + 1)) "$s" "$s" "$s"
		i=$((i + 2))
	done <"$dir/systems"
} >"$dir/policy50.yaml"
echo "bench-score: $(grep -c '  - id:' "$dir/policy50.yaml") SoD rules; snapshot: $(grep -E '^1 ' "$log.out" | awk '{print $6}') memberships" >&2

printf '%-4s %9s %9s %10s %12s\n' run wall_s rss_MiB findings bytes/finding
: >"$dir/results"
for ((r = 1; r <= RUNS; r++)); do
	before=$(stat -c %s "$db")
	/usr/bin/time -v -o "$dir/time" "$uar" score --db "$db" --config "$dir/sb/uar.yaml" --review "$(date -u +%Y)-Q$(( ($(date -u +%-m) - 1) / 3 + 1 ))" \
		--policy "$dir/policy50.yaml" >"$dir/score.out" 2>"$dir/score.err" || { cat "$dir/score.err" >&2; exit 1; }
	wall=$(awk -F': ' '/Elapsed/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$dir/time")
	rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); printf "%.1f", $2 / 1024}' "$dir/time")
	n=$(($(wc -l <"$dir/score.out") - 1))
	# The store file after the command (its last connection checkpoints
	# the log into it), against before: what the pass added.
	after=$(stat -c %s "$db")
	bpf=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { printf "%.0f", (n > 0 ? (a - b) / n : 0) }')
	echo "$wall $rss $n $bpf" >>"$dir/results"
	printf '%-4s %9.2f %9.1f %10d %12d\n' "$r" "$wall" "$rss" "$n" "$bpf"
done
mbpf=$(awk '{print $4}' "$dir/results" | median)
printf '%-4s %9.2f %9.1f %10s %12d\n' med "$(awk '{print $1}' "$dir/results" | median)" "$(awk '{print $2}' "$dir/results" | median)" "" "$mbpf"
awk -v b="$mbpf" 'BEGIN { printf "target: a scoring pass adds <= 250 bytes per finding: %d (%s)\n", b, (b <= 250 ? "ok" : "MISSED") }'
echo "findings by rule (last run):"
"$uar" query --db "$db" --sql "SELECT rule_id, count(*) FROM findings WHERE scoring_id = (SELECT max(id) FROM scorings) GROUP BY 1 ORDER BY 2 DESC LIMIT 8"
