#!/usr/bin/env bash
# Load-tests kmswatch-app on loopback with wrk: req/s and p50/p99 latency of
# POST /encrypt and GET /decrypt (JSON body, right key) at a few client counts,
# against the zero-latency KMS double and the local PostgreSQL. The load
# generator shares the machine's cores, as in the project's performance targets.
#
# Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
# BENCH_CONNECTIONS ("8 32 64"), BENCH_THREADS (2), BENCH_DURATION (15s),
# BENCH_PORT (18080), BENCH_DOUBLE_ADDR (127.0.0.1:14567), BENCH_PROFILE (set
# to 1: CPU profiles of the app during each run, in bin/bench-*.prof; read with
# go tool pprof -top bin/kmswatch-app bin/bench-decrypt-c32.prof).
# Rows go to the schema kmswatch_bench (dropped afterwards) when psql is there.
set -euo pipefail
cd "$(dirname "$0")/../.."
. app/scripts/lib.sh

connections=${BENCH_CONNECTIONS:-8 32 64}
threads=${BENCH_THREADS:-2}
duration=${BENCH_DURATION:-15s}
export PORT=${BENCH_PORT:-18080}
export LOG_LEVEL=info STARTUP_TIMEOUT=15s
profile=${BENCH_PROFILE:-}
[ -n "$profile" ] && export DEBUG_ADDR=127.0.0.1:16060
double_addr=${BENCH_DOUBLE_ADDR:-127.0.0.1:14567}
base_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
preload_names=500 # per thread

# wrk is the HTTP load generator every run below drives. As root on Debian or
# Ubuntu (CI, a container) the script installs it, after saying so; anyone
# else is told which package to install.
if ! command -v wrk >/dev/null; then
	echo "bench: wrk, the HTTP load generator these runs use, is not installed." >&2
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "bench: running as root, so installing the Debian package 'wrk' now: apt-get update && apt-get install -y wrk" >&2
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; } >&2 ||
			{ echo "bench: installing wrk failed; install the package 'wrk' yourself and run again." >&2; exit 1; }
	else
		echo "bench: install the package 'wrk' and run again: sudo apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)." >&2
		exit 1
	fi
fi

schema=''
if command -v psql >/dev/null; then
	schema=kmswatch_bench
	PGOPTIONS='-c client_min_messages=warning' psql -q "$base_url" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
	sep='?'
	case $base_url in *\?*) sep='&' ;; esac
	export DATABASE_URL="$base_url${sep}search_path=$schema"
else
	export DATABASE_URL=$base_url
fi

build_binaries
DOUBLE_PID='' APP_PID='' work=$(mktemp -d)
cleanup() {
	stop "$APP_PID" "$DOUBLE_PID"
	[ -n "$schema" ] && psql -q "$base_url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_double "$double_addr" /dev/null
start_app "$work/app.log"
url="http://127.0.0.1:$PORT"

# cpu_ticks PID: user+system CPU clock ticks the process has used so far.
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	stat=${stat##*) } # the fields after "(command)"
	# shellcheck disable=SC2086 # split into the stat fields on purpose
	set -- $stat
	echo $((${12} + ${13})) # utime, stime
}

# pg_ticks: CPU ticks of the whole PostgreSQL server: every live process, plus
# the postmaster's reaped children (cutime, cstime), so backends that come and
# go during a run are counted.
pg_ticks() {
	local postmaster pid total=0 stat
	postmaster=$(pgrep -u postgres -o postgres || true)
	[ -n "$postmaster" ] || { echo 0; return; }
	for pid in $(pgrep -u postgres postgres); do
		total=$((total + $(cpu_ticks "$pid")))
	done
	stat=$(cat "/proc/$postmaster/stat" 2>/dev/null) || { echo "$total"; return; }
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split into the stat fields on purpose
	set -- $stat
	echo $((total + ${14} + ${15}))
}

# run_wrk NAME CONNECTIONS DURATION SCRIPT ARGS...: runs wrk, fails on any
# non-2xx answer or socket error, prints one table row with the CPU time the
# app, the double and PostgreSQL spent per request (microseconds).
run_wrk() {
	local name=$1 conns=$2 dur=$3 script=$4 out="$work/wrk.out"
	shift 4
	local app0 dbl0 pg0
	app0=$(cpu_ticks "$APP_PID") dbl0=$(cpu_ticks "$DOUBLE_PID") pg0=$(pg_ticks)
	local prof_pid=''
	if [ -n "$profile" ] && [ "$name" != preload ]; then
		local secs=${dur%s}
		curl -fsS -o "bin/bench-${name#* /}-c$conns.prof" "http://$DEBUG_ADDR/debug/pprof/profile?seconds=$((secs > 2 ? secs - 1 : 1))" &
		prof_pid=$!
	fi
	wrk -t"$threads" -c"$conns" -d"$dur" --latency -s "$script" "$url" -- "$@" >"$out"
	[ -n "$prof_pid" ] && wait "$prof_pid"
	local app1 dbl1 pg1
	app1=$(cpu_ticks "$APP_PID") dbl1=$(cpu_ticks "$DOUBLE_PID") pg1=$(pg_ticks)
	if grep -qE 'Non-2xx|Socket errors' "$out"; then
		echo "bench: $name at $conns clients had failures:" >&2
		cat "$out" >&2
		tail -5 "$work/app.log" >&2
		exit 1
	fi
	if [ "$name" != preload ]; then
		awk -v name="$name" -v conns="$conns" -v hz="$(getconf CLK_TCK)" \
			-v app=$((app1 - app0)) -v dbl=$((dbl1 - dbl0)) -v pg=$((pg1 - pg0)) '
			/Requests\/sec:/ { rps = $2 }
			/requests in/ { reqs = $1 }
			$1 == "50%" { p50 = $2 }
			$1 == "99%" { p99 = $2 }
			END {
				us = 1e6 / hz / reqs
				printf "%-14s %7s %10s %9s %9s %9.0f %9.0f %9.0f\n", name, conns, rps, p50, p99, app * us, dbl * us, pg * us
			}' "$out"
	fi
}

echo "wrk -t$threads -d$duration --latency on $(nproc) cores; app $url, KMS double $AWS_ENDPOINT_URL"
# Pre-encrypt the names the decrypt runs read (each thread cycles through its 500).
run_wrk preload 8 3s app/scripts/wrk-encrypt.lua pre- "$preload_names"
printf "%-14s %7s %10s %9s %9s %9s %9s %9s\n" path clients req/s p50 p99 app-us/req kms-us/req pg-us/req
for c in $connections; do
	run_wrk "POST /encrypt" "$c" "$duration" app/scripts/wrk-encrypt.lua "bench-c$c-" 10000
	run_wrk "GET /decrypt" "$c" "$duration" app/scripts/wrk-decrypt.lua "$KMS_KEY_ID" pre- "$threads" "$preload_names"
done
