# lib.sh: helpers the bench scripts share; source it, do not run it.
#
#   bench_timer_init    sets $timer to GNU time when it is there (installing
#                       it with apt-get when absent and running as root);
#                       BENCH_RSS=proc forces /proc sampling instead
#   measure DIR NAME CMD...
#                       runs CMD (stdout to DIR/NAME.out, stderr to
#                       DIR/NAME.err) and prints "wall_s cpu_s rss_kib"
#                       (cpu_s is -1 without GNU time); fails if CMD does
#   median              the median of the numbers on stdin, one per line
#   revocable_targets UAR DIR N
#                       N "ticket owner user" lines for the published review
#                       of the sandbox folder DIR (its uar.yaml and store):
#                       users whose one access is a direct membership of a
#                       group Okta manages (so the removal is uar's to make),
#                       with their system's ticket and owner

bench_timer_init() {
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
		echo "bench: no GNU time -v: peak RSS is sampled from /proc/PID/status VmHWM every 50 ms, and CPU is not measured" >&2
	fi
}

measure() {
	local dir=$1 name=$2 t0 t1 rss=0 cpu=-1 pid v
	shift 2
	t0=$(date +%s%N)
	if [[ -n "${timer:-}" ]]; then
		"$timer" -v -o "$dir/time-$name.txt" "$@" >"$dir/$name.out" 2>"$dir/$name.err" || return 1
		t1=$(date +%s%N)
		rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$dir/time-$name.txt")
		cpu=$(awk -F: '/User time|System time/ {s += $2} END {print s}' "$dir/time-$name.txt")
	else
		"$@" >"$dir/$name.out" 2>"$dir/$name.err" &
		pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
			[[ -n "$v" && "$v" -gt "$rss" ]] && rss=$v
			sleep 0.05
		done
		wait "$pid" || return 1
		t1=$(date +%s%N)
	fi
	awk -v t0="$t0" -v t1="$t1" -v c="$cpu" -v r="$rss" 'BEGIN { printf "%.2f %.2f %d\n", (t1 - t0) / 1e9, c, r }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

revocable_targets() {
	local uar=$1 dir=$2 n=$3
	(cd "$dir" && "$uar" query --sql "SELECT p.external_key, a.system, a.user_login FROM v_access a
		JOIN publications p ON p.kind = 'ticket' AND p.system = a.system AND p.review = a.review
		WHERE a.membership_source = 'direct'
		  AND a.group_name IN (SELECT name FROM snapshot_groups WHERE type = 'OKTA_GROUP' AND rule_managed = 0)
		  AND a.user_login IN (SELECT user_login FROM v_access GROUP BY user_login HAVING count(*) = 1)
		ORDER BY a.user_login LIMIT $n" | tail -n +2) |
		while IFS=$'\t' read -r key system user; do
			owner=$(awk -v s="$system" '$0 ~ "- name: "s"$" {f=1; next} f && /owner:/ {print $2; exit}' "$dir/uar.yaml")
			printf '%s %s %s\n' "$key" "$owner" "$user"
		done
}
