#!/usr/bin/env bash
# The lab's walkthrough with curl: encrypt a secret, decrypt it, then decrypt with a wrong key
# several times. KMS refuses each one and the app answers 403, which trips two alarms:
# app-kms-errors (the refusals, as CloudTrail records them in the trail's log group) and
# app-decrypt-denied (the app's own decrypt_failed log lines, in its log group).
#
#   infra/scripts/smoke.sh                              # against the deployed stack
#   URL=http://127.0.0.1:8080 infra/scripts/smoke.sh    # against a local app (make local)
#   infra/scripts/smoke.sh --put-key-policy             # the EventBridge path instead: rewrites the app
#                                                       # key's policy with itself (see below)
#
# --put-key-policy reads the app key's policy (aws kms get-key-policy) and puts the same text back
# (put-key-policy), which changes nothing but is a PutKeyPolicy call: CloudTrail records it and the
# kms-key-policy-change EventBridge rule mails the alert topic at once. No CloudWatch alarm counts it
# (the alarms watch the task role's calls, DisableKey and ScheduleKeyDeletion). Anything else in the
# account that watches PutKeyPolicy sees it too (a SIEM, AWS Config): tell its owners first. Needs
# the AWS CLI and kms:GetKeyPolicy and kms:PutKeyPolicy on the key.
#
# Environment: URL, STACK (default dev), WRONG_ATTEMPTS (default 10), WRONG_KEY (a key id that is not
# the app's); for the local hint, TRAIL_FILE and DOUBLE_ROLE_ARN (the KMS double's trail file and task role).
# Exit status: 0 when encrypt and decrypt work and every wrong-key decrypt is refused (or, with
# --put-key-policy, when the policy was put back unchanged); 1 otherwise; 2 for bad usage.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STACK="${STACK:-dev}"
# app-decrypt-denied fires at 5 refusals in one 5-minute period; twice that many means one period
# holds at least 5 even when the burst straddles a period boundary.
WRONG_ATTEMPTS="${WRONG_ATTEMPTS:-10}"
# Well formed, and no key of anyone (the double's key is the AWS docs' example id, so not that one).
WRONG_KEY="${WRONG_KEY:-00000000-0000-0000-0000-000000000000}"

die() { echo "smoke: FAIL: $*" >&2; exit 1; }

mode="walkthrough"
for arg in "$@"; do
  case "$arg" in
    --put-key-policy) mode="put-key-policy" ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "smoke: unknown argument '$arg' (known: --put-key-policy, --help)" >&2; exit 2 ;;
  esac
done
[[ "$WRONG_ATTEMPTS" =~ ^[1-9][0-9]*$ ]] || { echo "smoke: WRONG_ATTEMPTS '$WRONG_ATTEMPTS': want a whole number above 0" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# stack_output NAME [--json]: read through pulumi.sh, so that the stack's backend is the one make up
# used; what went wrong is left in $work/pulumi.err.
stack_output() { STACK="$STACK" bash "$REPO/infra/scripts/pulumi.sh" output "$@" 2>"$work/pulumi.err"; }
pulumi_said() { sed 's/^/  /' "$work/pulumi.err"; }

if [ "$mode" = put-key-policy ]; then
  command -v aws >/dev/null 2>&1 || die "--put-key-policy needs the AWS CLI: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
  key_arn="$(stack_output kmsKeyArn)" || die "no 'kmsKeyArn' output in stack $STACK: deploy with 'make up' first
$(pulumi_said)"
  region="$(cut -d: -f4 <<<"$key_arn")"
  # PolicyName "default" is the only key policy name KMS has.
  # https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html
  # https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html
  policy="$(aws kms get-key-policy --region "$region" --key-id "$key_arn" --policy-name default --query Policy --output text)" ||
    die "aws kms get-key-policy failed for $key_arn"
  [ -n "$policy" ] || die "aws kms get-key-policy returned an empty policy for $key_arn"
  policy_file="$work/policy.json"
  printf '%s' "$policy" >"$policy_file"
  # No --bypass-policy-lockout-safety-check: KMS keeps checking that the caller could put it again.
  aws kms put-key-policy --region "$region" --key-id "$key_arn" --policy-name default --policy "file://$policy_file" ||
    die "aws kms put-key-policy failed for $key_arn; the policy is as it was"
  after="$(aws kms get-key-policy --region "$region" --key-id "$key_arn" --policy-name default --query Policy --output text)" ||
    die "put-key-policy succeeded but reading the policy back failed; check it: aws kms get-key-policy --key-id $key_arn"
  [ "$after" = "$policy" ] || die "the key policy of $key_arn reads back different from what was put; compare it with the stack (pulumi preview --refresh)"
  cat <<EOF
smoke: PutKeyPolicy on $key_arn, with the policy it already had (read back unchanged).

CloudTrail records the call (https://docs.aws.amazon.com/kms/latest/developerguide/ct-put-key-policy.html)
and EventBridge matches it to the kms-key-policy-change rule, which mails the alert topic. AWS
delivers CloudTrail events to EventBridge on a best-effort basis and documents no delay. The call itself:

  aws cloudtrail lookup-events --region $region --max-results 1 \\
    --lookup-attributes AttributeKey=EventName,AttributeValue=PutKeyPolicy
EOF
  exit 0
fi

command -v curl >/dev/null 2>&1 || die "curl is not installed"
deployed=false
if [ -z "${URL:-}" ]; then
  command -v pulumi >/dev/null 2>&1 || die "no URL given and no Pulumi CLI to ask the stack: URL=http://... $0"
  URL="$(stack_output url)" || die "no 'url' output in stack $STACK: deploy with 'make up', or give URL=http://...
$(pulumi_said)"
  deployed=true
fi
URL="${URL%/}"
echo "smoke: target $URL"
# Log searches below start here, in milliseconds since the epoch as FilterLogEvents wants them.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
start_ms="$(($(date +%s) * 1000))"

body="$work/body"

# request METHOD PATH [JSON] -> prints the HTTP status, leaves the body in $body.
request() {
  local args=(-sS -o "$body" -w '%{http_code}' --max-time 15 -X "$1")
  if [ $# -ge 3 ]; then
    args+=(-H 'Content-Type: application/json' --data "$3")
  fi
  curl "${args[@]}" "$URL$2" || true # on a connection failure curl prints 000
}

# field NAME: a top-level string field of the JSON body (no jq needed for these flat answers).
field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$body"; }

json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# A fresh stack needs a minute or two before its first task passes the health check.
tries=3
[ "$deployed" = true ] && tries=30
for i in $(seq 1 "$tries"); do
  status="$(request GET / 2>/dev/null)"
  [ "$status" = 200 ] && break
  [ "$i" = "$tries" ] && die "GET $URL/ answered $status after $tries tries (000: no connection): is the service up?"
  sleep 5
done
echo "smoke: GET / -> 200"

name="smoke-$(date +%s)-$$"
text="kmswatch smoke test at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
status="$(request POST /encrypt "{\"Name\":$(json_string "$name"),\"Text\":$(json_string "$text")}")"
[ "$status" = 200 ] || die "POST /encrypt answered $status: $(cat "$body")"
key="$(field Key)"
[ -n "$key" ] || die "POST /encrypt gave no Key: $(cat "$body")"
echo "smoke: POST /encrypt -> 200, $(field Message); Key $key"

# The lab decrypts with GET and a JSON body; the app accepts POST as well.
status="$(request GET /decrypt "{\"Name\":$(json_string "$name"),\"Key\":$(json_string "$key")}")"
[ "$status" = 200 ] || die "GET /decrypt with the right key answered $status: $(cat "$body")"
[ "$(field Text)" = "$text" ] || die "GET /decrypt returned '$(field Text)', want '$text'"
echo "smoke: GET /decrypt with the right key -> 200, text matches"

for i in $(seq 1 "$WRONG_ATTEMPTS"); do
  status="$(request GET /decrypt "{\"Name\":$(json_string "$name"),\"Key\":$(json_string "$WRONG_KEY")}")"
  # 403 is the app passing on KMS's refusal; any other answer means KMS never saw the call,
  # so CloudTrail has nothing and app-kms-errors cannot fire.
  case "$status" in
    403) echo "smoke: GET /decrypt with a wrong key ($i/$WRONG_ATTEMPTS) -> 403, refused by KMS" ;;
    200) die "a decrypt with the wrong key $WRONG_KEY succeeded" ;;
    *) die "GET /decrypt with a wrong key answered $status, want 403 (KMS refusal): $(cat "$body")" ;;
  esac
done

echo
echo "smoke: OK. KMS refused $WRONG_ATTEMPTS decrypts by the app; each is a CloudTrail record and a decrypt_failed log line."
if [ "$deployed" = true ]; then
  alarms="$(stack_output alarmNames --json | tr -d '[]" \n' | tr ',' '\n' | grep -E -- '-(app-kms-errors|app-decrypt-denied)$' | xargs || true)"
  trail_logs="$(stack_output trailLogGroup || true)"
  app_logs="$(stack_output appLogGroup || true)"
  cat <<EOF

Two alarms should go to ALARM:
  app-kms-errors      the refusals in the trail's log group; CloudTrail delivers "within an average
                      of about 5 minutes" (AWS: docs.aws.amazon.com/awscloudtrail/latest/userguide/
                      cloudtrail-working-with-log-files.html), then the 1-minute alarm follows.
  app-decrypt-denied  the app's decrypt_failed lines in its own log group; no CloudTrail delay,
                      but the alarm sums 5-minute periods.
Watch them:

  aws cloudwatch describe-alarms --alarm-names ${alarms:-<names from: infra/scripts/pulumi.sh output alarmNames>} \\
    --query 'MetricAlarms[].[AlarmName,StateValue,StateReason]' --output table

The refused calls, as CloudTrail recorded them, and the app's log lines, since this run began:

  aws logs filter-log-events --log-group-name ${trail_logs:-<trailLogGroup output>} --start-time $start_ms \\
    --filter-pattern '{ (\$.eventSource = "kms.amazonaws.com") && (\$.errorCode = "*") }' \\
    --query 'events[].message' --output text
  aws logs filter-log-events --log-group-name ${app_logs:-<the app log group>} --start-time $start_ms \\
    --filter-pattern '{ \$.event = "decrypt_failed" }' --query 'events[].message' --output text

When an alarm is in ALARM, the confirmed alert address gets an email; another follows when it
returns to OK, once a period passes without refusals. To try the EventBridge path too:
infra/scripts/smoke.sh --put-key-policy
EOF
else
  cat <<EOF

Against a local app the refusals come from the KMS double, which writes CloudTrail-shaped records
(make local: ./local-trail.jsonl). Replay them through the rules the stack deploys:

  go run ./infra/cmd/kmswatch replay --role-arn ${DOUBLE_ROLE_ARN:-arn:aws:iam::111122223333:role/kmswatch-task} ${TRAIL_FILE:-local-trail.jsonl}

app-kms-errors should show a period in ALARM.
EOF
fi
