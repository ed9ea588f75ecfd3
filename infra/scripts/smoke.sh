#!/usr/bin/env bash
# The lab's walkthrough with curl: encrypt a secret, decrypt it, then decrypt with a wrong key a
# few times so that KMS refuses, CloudTrail records it and the app-kms-errors alarm fires.
#
#   infra/scripts/smoke.sh                              # against the deployed stack (pulumi stack output url)
#   URL=http://127.0.0.1:8080 infra/scripts/smoke.sh    # against a local app (make local)
#
# Environment: URL, STACK (default dev), WRONG_ATTEMPTS (default 5), WRONG_KEY (a key id that is not the app's);
# for the local hint, TRAIL_FILE and DOUBLE_ROLE_ARN (the KMS double's trail file and task role).
# Exit status: 0 when encrypt and decrypt work and every wrong-key decrypt is refused; 1 otherwise.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STACK="${STACK:-dev}"
WRONG_ATTEMPTS="${WRONG_ATTEMPTS:-5}"
# Well formed, and no key of anyone (the double's key is the AWS docs' example id, so not that one).
WRONG_KEY="${WRONG_KEY:-00000000-0000-0000-0000-000000000000}"

die() { echo "smoke: FAIL: $*" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || die "curl is not installed"

deployed=false
if [ -z "${URL:-}" ]; then
  command -v pulumi >/dev/null 2>&1 || die "no URL given and no Pulumi CLI to ask the stack: URL=http://... $0"
  URL="$(cd "$REPO" && pulumi stack output url --stack "$STACK" 2>/dev/null)" ||
    die "no 'url' output in stack $STACK: deploy with 'make up', or give URL=http://..."
  deployed=true
fi
URL="${URL%/}"
echo "smoke: target $URL"

body="$(mktemp)"
trap 'rm -f "$body"' EXIT

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
  # so CloudTrail has nothing and the alarm cannot fire.
  case "$status" in
    403) echo "smoke: GET /decrypt with a wrong key ($i/$WRONG_ATTEMPTS) -> 403, refused by KMS" ;;
    200) die "a decrypt with the wrong key $WRONG_KEY succeeded" ;;
    *) die "GET /decrypt with a wrong key answered $status, want 403 (KMS refusal): $(cat "$body")" ;;
  esac
done

echo
echo "smoke: OK. The key service refused $WRONG_ATTEMPTS decrypts by the app; each refusal is a CloudTrail record."
if [ "$deployed" = true ]; then
  alarms="$(pulumi --cwd "$REPO" stack output alarmNames --stack "$STACK" --json 2>/dev/null | tr -d '[]",' | xargs || true)"
  trail_logs="$(pulumi --cwd "$REPO" stack output trailLogGroup --stack "$STACK" 2>/dev/null || true)"
  cat <<EOF

CloudTrail delivers to CloudWatch Logs within about 5 minutes; the alarm follows. Watch it with:

  aws cloudwatch describe-alarms --alarm-names ${alarms:-<alarmNames output>} \\
    --query 'MetricAlarms[].[AlarmName,StateValue,StateReason]' --output table

The refused calls themselves:

  aws logs filter-log-events --log-group-name ${trail_logs:-<trailLogGroup output>} \\
    --filter-pattern '{ (\$.eventSource = "kms.amazonaws.com") && (\$.errorCode = "*") }' \\
    --query 'events[].message' --output text

When the alarm is in ALARM, the confirmed alert address gets the email; it returns to OK (another
email) once a period passes without errors.
EOF
else
  cat <<EOF

Against a local app the refusals come from the KMS double, which writes CloudTrail-shaped records
(make local: ./local-trail.jsonl). Replay them through the rules the stack deploys:

  go run ./infra/cmd/kmswatch replay --role-arn ${DOUBLE_ROLE_ARN:-arn:aws:iam::111122223333:role/kmswatch-task} ${TRAIL_FILE:-local-trail.jsonl}

app-kms-errors should show a period in ALARM.
EOF
fi
