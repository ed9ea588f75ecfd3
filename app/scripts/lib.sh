# shellcheck shell=bash
# Shared by local.sh and bench.sh: build, start the AWS double, start the app.
# Sourced, not run. Callers set -euo pipefail and cd to the repo root.

# The app signs with the credentials the double prints (its ECS task role
# session, valid against the double only); real AWS is never contacted
# because AWS_ENDPOINT_URL points the SDK at the double.
export AWS_EC2_METADATA_DISABLED=true

build_binaries() {
	mkdir -p bin
	go build -o bin/kmswatch-app ./app/cmd/kmswatch-app
	go build -o bin/awsdouble ./app/cmd/awsdouble
}

# start_double ADDR TRAIL_FILE: starts bin/awsdouble in the background and
# exports what it prints: the keys (KMS_KEY_ID, KMS_KEY_ARN, KMS_OTHER_KEY_ID,
# KMS_DISABLED_KEY_ID), the task role (TASK_ROLE_ARN) and its session's credentials (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), AWS_REGION and AWS_ENDPOINT_URL.
start_double() {
	local addr=$1 trail=$2 out
	out=$(mktemp)
	bin/awsdouble --addr "$addr" --trail-file "$trail" >"$out" 2>&1 &
	DOUBLE_PID=$!
	for _ in $(seq 1 100); do
		grep -q '^AWS_ENDPOINT_URL=' "$out" && break
		if ! kill -0 "$DOUBLE_PID" 2>/dev/null; then
			echo "awsdouble failed to start:" >&2
			cat "$out" >&2
			exit 1
		fi
		sleep 0.1
	done
	grep -q '^AWS_ENDPOINT_URL=' "$out" || { echo "awsdouble did not start within 10s" >&2; exit 1; }
	while IFS='=' read -r name value; do
		case $name in
		KMS_KEY_ID | KMS_KEY_ARN | KMS_OTHER_KEY_ID | KMS_DISABLED_KEY_ID | TASK_ROLE_ARN | AWS_ACCESS_KEY_ID | \
			AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN | AWS_REGION | AWS_ENDPOINT_URL) export "$name=$value" ;;
		esac
	done <"$out"
	rm -f "$out"
}

# start_app LOG_FILE: starts bin/kmswatch-app in the background (environment
# already exported) and waits until /readyz answers 200.
start_app() {
	local log=$1
	bin/kmswatch-app >"$log" 2>&1 &
	APP_PID=$!
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$APP_PID" 2>/dev/null; then
			echo "kmswatch-app exited:" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "kmswatch-app not ready after 30s; log: $log" >&2
	exit 1
}

# stop PID...: SIGTERM each process that is still running and wait for it.
stop() {
	local pid
	for pid in "$@"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
}
