#!/usr/bin/env bash
# Times `kmswatch replay --json` on the TARGETS.md corpus: 100 gzip'd CloudTrail files x 2,000
# records drawn from infra/rules/testdata/cloudtrail. Side by side: zcat alone, and zcat | jq with the
# lab's rule when jq is installed. Target (TARGETS.md): replay <= 0.75 s wall on 2 cores.
#
# Usage: infra/scripts/replay-bench.sh   (from anywhere; SAMPLES=dir overrides the samples)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
samples=${SAMPLES:-$repo/infra/rules/testdata/cloudtrail}
role=arn:aws:iam::111122223333:role/pattern1-application-Pattern1ECSTaskRole
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$repo"
go build -o "$work/kmswatch" ./infra/cmd/kmswatch
go build -o "$work/gencorpus" ./infra/rules/corpus/gencorpus
mkdir "$work/corpus"
echo "corpus: $("$work/gencorpus" --samples "$samples" "$work/corpus")"
echo "cores: $(nproc)"

TIMEFORMAT='%R s wall, %U s user, %S s sys'
cat "$work"/corpus/*.gz > /dev/null # warm the page cache, as every run below reads the same files

replay() {
	# Exit 1 means findings (the corpus trips alarms); 2 or more is a failure.
	"$work/kmswatch" replay --json --role-arn "$role" "$work/corpus" > "$work/out.jsonl" || [ $? -eq 1 ]
}
for run in 1 2 3; do
	echo -n "kmswatch replay --json, all five rules (run $run): "
	{ time replay; } 2>&1
done
echo "  $(grep -c '"type":"match"' "$work/out.jsonl") match lines, $(grep -c '"type":"period"' "$work/out.jsonl") period lines"

echo -n "zcat alone: "
{ time zcat "$work"/corpus/*.gz > /dev/null; } 2>&1

if command -v jq > /dev/null; then
	echo -n "zcat | jq ($(jq --version)), the lab's rule only: "
	{ time (zcat "$work"/corpus/*.gz | jq -c --arg role "$role" '.Records[] | select(.errorCode != null
		and .eventSource == "kms.amazonaws.com" and .userIdentity.sessionContext.sessionIssuer.arn == $role)' > /dev/null); } 2>&1
else
	echo "jq not installed: skipping the zcat | jq comparison"
fi
