#!/usr/bin/env bash
# Runs kmswatch-app on this machine, as a user would: against the KMS and
# Secrets Manager double (bin/awsdouble, CloudTrail records appended to
# ./local-trail.jsonl) and the local PostgreSQL. Ctrl-C stops both.
#
# Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
# PORT (8080), BIND_ADDRESS (127.0.0.1: only this machine reaches the app, which
# has no authentication; 0.0.0.0 to share it), DOUBLE_ADDR (127.0.0.1:4566), TRAIL_FILE (./local-trail.jsonl),
# LOG_LEVEL (info; debug adds an access log line per request).
set -euo pipefail
cd "$(dirname "$0")/../.."
. app/scripts/lib.sh

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export PORT=${PORT:-8080}
export BIND_ADDRESS=${BIND_ADDRESS:-127.0.0.1}
export STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-15s}
export LOG_LEVEL=${LOG_LEVEL:-info}
DOUBLE_ADDR=${DOUBLE_ADDR:-127.0.0.1:4566}
TRAIL_FILE=${TRAIL_FILE:-./local-trail.jsonl}

build_binaries
go build -o bin/kmswatch ./infra/cmd/kmswatch # for the replay line below
DOUBLE_PID='' APP_PID='' TAIL_PID=''
trap 'stop "$APP_PID" "$DOUBLE_PID" "$TAIL_PID"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_double "$DOUBLE_ADDR" "$TRAIL_FILE"

app_log=$(mktemp)
start_app "$app_log"
url="http://127.0.0.1:$PORT"
cat <<MSG

kmswatch-app is running at $url  (pid $APP_PID, log $app_log)
AWS double at $AWS_ENDPOINT_URL; CloudTrail records go to $TRAIL_FILE
KMS key id:          $KMS_KEY_ID
another key:         $KMS_OTHER_KEY_ID
a disabled key:      $KMS_DISABLED_KEY_ID

Try the lab's commands:
  curl --header "Content-Type: application/json" --request POST --data '{"Name":"Bob","Text":"Hello, KMS"}' $url/encrypt
  curl --header "Content-Type: application/json" --request GET --data '{"Name":"Bob","Key":"$KMS_KEY_ID"}' $url/decrypt
Keys KMS refuses (see decrypt_failed in the log and errorCode in the trail):
  curl --header "Content-Type: application/json" --request GET --data '{"Name":"Bob","Key":"$KMS_OTHER_KEY_ID"}' $url/decrypt
  curl --header "Content-Type: application/json" --request GET --data '{"Name":"Bob","Key":"$KMS_DISABLED_KEY_ID"}' $url/decrypt
  curl --header "Content-Type: application/json" --request GET --data '{"Name":"Bob","Key":"00000000-0000-0000-0000-000000000000"}' $url/decrypt
(IncorrectKeyException, DisabledException, NotFoundException: all three are a 403 from the app.)

Then run the trail through the rules, joined with the app's log (it names every Decrypt the app did not serve):
  bin/kmswatch replay --role-arn $TASK_ROLE_ARN --app-key-arn $KMS_KEY_ARN $TRAIL_FILE $app_log

Logs follow; Ctrl-C stops the app and the double.
MSG
# Follow the log until the app exits. Not `tail --pid`: that is GNU only (macOS's
# tail has no such option), so the follower runs beside the app and is stopped
# once the app is gone.
tail -n +1 -f "$app_log" &
TAIL_PID=$!
app_status=0
wait "$APP_PID" || app_status=$?
sleep 1 # lets tail print the app's last lines
exit "$app_status"
