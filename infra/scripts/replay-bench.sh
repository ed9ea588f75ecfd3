#!/usr/bin/env bash
# Times `kmswatch replay --json` on the TARGETS.md corpus: 100 gzip'd CloudTrail files x 2,000
# records drawn from infra/rules/testdata/cloudtrail, then `replay --html` (the report) and `tune`
# on the same corpus. Side by side: zcat alone, and zcat | jq with the lab's rule when jq is
# installed. Then the large-file case: one 500 MB {"Records":[...]} file of the same records, plain
# and gzip'd, replayed under /usr/bin/time -v for its peak resident memory.
# Targets (TARGETS.md, issues 12 and 14): 200,000 records in <= 0.5 s wall for replay, <= 2 s for
# replay --html and tune; a 500 MB file in < 64 MiB. The load average is printed first: the machine
# may be shared, and its figures move with it.
#
# Usage: infra/scripts/replay-bench.sh   (from anywhere; SAMPLES=dir overrides the samples,
#        BIG_RECORDS=N the large file's records: 453000 make 500.8 MB)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
samples=${SAMPLES:-$repo/infra/rules/testdata/cloudtrail}
big_records=${BIG_RECORDS:-453000}
role=arn:aws:iam::111122223333:role/pattern1-application-Pattern1ECSTaskRole
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$repo"
go build -o "$work/kmswatch" ./infra/cmd/kmswatch
go build -o "$work/gencorpus" ./infra/rules/corpus/gencorpus
mkdir "$work/corpus"
echo "corpus: $("$work/gencorpus" --samples "$samples" "$work/corpus")"
echo "cores: $(nproc); load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

TIMEFORMAT='%R s wall, %U s user, %S s sys'
cat "$work"/corpus/*.gz > /dev/null # warm the page cache, as every run below reads the same files

replay() {
	# Exit 1 means findings (the corpus trips alarms); 2 or more is a failure.
	"$work/kmswatch" replay --json --role-arn "$role" "$@" > "$work/out.jsonl" 2> "$work/err.txt" || [ $? -eq 1 ]
}
for run in 1 2 3; do
	echo -n "kmswatch replay --json, every rule --role-arn replays (run $run): "
	{ time replay "$work/corpus"; } 2>&1
done
echo "  $(grep -c '"type":"match"' "$work/out.jsonl") match lines, $(grep -c '"type":"period"' "$work/out.jsonl") period lines"
echo "  $(tail -1 "$work/err.txt")"

for run in 1 2 3; do
	echo -n "kmswatch replay --json --html, the report (run $run): "
	{ time replay --html "$work/report.html" "$work/corpus"; } 2>&1
done
echo "  report: $(wc -c < "$work/report.html") bytes, $(grep -c '<svg class="chart"' "$work/report.html") charts"
for run in 1 2 3; do
	echo -n "kmswatch tune --json (run $run): "
	{ time ("$work/kmswatch" tune --json --role-arn "$role" "$work/corpus" > "$work/tune.json" 2> "$work/tune-err.txt"); } 2>&1
done
echo "  tune: $(grep -c '"setting"' "$work/tune.json") rules tuned, $(grep -c 'pulumi config set' "$work/tune.json") config lines"
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

echo -n "zcat alone: "
{ time zcat "$work"/corpus/*.gz > /dev/null; } 2>&1

if command -v jq > /dev/null; then
	echo -n "zcat | jq ($(jq --version)), the lab's rule only: "
	{ time (zcat "$work"/corpus/*.gz | jq -c --arg role "$role" '.Records[] | select(.errorCode != null
		and .eventSource == "kms.amazonaws.com" and .userIdentity.sessionContext.sessionIssuer.arn == $role)' > /dev/null); } 2>&1
else
	echo "jq not installed: skipping the zcat | jq comparison"
fi

rm -rf "$work/corpus"
if [ ! -x /usr/bin/time ]; then
	echo "/usr/bin/time (GNU time) not installed: skipping the large-file memory measurement"
	exit 0
fi
for form in plain gzip; do
	mkdir "$work/big"
	flag=--plain
	[ "$form" = gzip ] && flag=
	echo "large file ($form): $("$work/gencorpus" --files 1 --records "$big_records" $flag --samples "$samples" "$work/big")"
	cat "$work"/big/* > /dev/null
	/usr/bin/time -v -o "$work/time.txt" "$work/kmswatch" replay --json --role-arn "$role" "$work/big" > /dev/null 2>&1 || [ $? -eq 1 ]
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
	echo "  kmswatch replay --json: peak resident $rss KB ($((rss / 1024)) MiB), $wall wall"
	rm -rf "$work/big"
done
