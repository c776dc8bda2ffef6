#!/usr/bin/env bash
# End-to-end benchmark (not a test): event in -> executed in a warm sandbox -> result persisted.
# Starts the packaged service on a throw-away data directory and prints (1) latency of a trivial
# snippet submitted with POST /executions?wait at low load (one client), (2) sustained executions/s
# with events pushed by wrk until the journal drains, (3) the high lane's queue wait under a low
# flood, from the service's own sandstream_queue_wait metric. Baseline in the same run: the bare HTTP
# round trip of OPTIONS /events. Usage: src/bench/pipeline-bench.sh [seconds per phase, default 15]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
port=${BENCH_PORT:-18081}
url="http://127.0.0.1:$port"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
./mvnw -B -q package -DskipTests
data=$(mktemp -d)
# Throughput, not limits, is measured: the rate limits are off and metrics are read without a key.
SANDSTREAM_SECURITY_RATE_LIMITS_INGRESS_RATE=0 SANDSTREAM_SECURITY_RATE_LIMITS_API_RATE=0 SANDSTREAM_SECURITY_PUBLIC_METRICS=true \
  SANDSTREAM_DATA_DIR=$data SANDSTREAM_INGRESS_KEYS=bench-key SANDSTREAM_API_KEYS='bench-api@*' \
  SANDSTREAM_JOURNAL_MAX_PENDING=1000000 QUARKUS_HTTP_PORT=$port \
  java ${BENCH_JAVA_OPTS:--Xmx512m} -jar target/quarkus-app/quarkus-run.jar >"$data/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 150); do curl -fs "$url/q/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
sleep 2 # let the warm pools fill

metric() { curl -fs "$url/q/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $2; exit}'; }
wrk_run() { wrk -t1 "$@" --timeout 60s -s src/bench/ingest.lua "$url" | sed -n 's/^RESULT //p'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "machine: $(nproc) cores; wrk and the service share them"
base=$(MODE=options KEY=bench-key wrk_run -c8 -d"${seconds}s")
printf 'baseline OPTIONS /events, 8 connections:        %8s req/s\n' "$(field "$base" requests_per_s)"

MODE=wait API=bench-api wrk_run -c1 -d3s >/dev/null # warm-up
lat=$(MODE=wait API=bench-api wrk_run -c1 -d"${seconds}s")
printf 'submit + wait for the persisted result (1 client): p50 %s ms  p99 %s ms  (%s executions/s)\n' \
  "$(field "$lat" p50_ms)" "$(field "$lat" p99_ms)" "$(field "$lat" requests_per_s)"

before=$(metric 'sandstream_journal_pending ')
start=$(date +%s.%N)
# Pushed in batches of 50 (Event Grid delivers batches too), so that accepting the events does not
# take the CPU the executions need.
push=$(MODE=batch BATCH=50 KEY=bench-key CODE='1+1' wrk_run -c4 -d"${seconds}s")
while [ "$(metric 'sandstream_journal_pending ')" != "0.0" ]; do sleep 0.2; done
end=$(date +%s.%N)
pushed=$(awk -v r="$(field "$push" events_per_s)" -v s="$seconds" 'BEGIN{printf "%d", r*s}')
printf 'sustained: %s events pushed in %ss, all executed and persisted after %.1fs: %.0f executions/s\n' \
  "$pushed" "$seconds" "$(echo "$end - $start" | awk '{print $1 - $3}')" \
  "$(awk -v n="$pushed" -v a="$start" -v b="$end" 'BEGIN{print n/(b-a)}')"

MODE=single KEY=bench-key PRIORITY=low CODE='sum(range(20000))' wrk_run -c12 -d"${seconds}s" >/dev/null &
flood=$!
sleep 1
# High work trickles in (one event every 20 ms) while the low flood saturates the pool. It uses
# sessions of its own (two: the pool's 20 hold the flood's 16 and one more): a session runs its
# events in arrival order, whatever their priority.
MODE=single KEY=bench-key PRIORITY=high CODE='1+1' DELAY_MS=20 SESSIONS=urgent- SESSION_COUNT=2 wrk_run -c1 -d"$((seconds - 2))s" >/dev/null
wait $flood
while [ "$(metric 'sandstream_journal_pending ')" != "0.0" ]; do sleep 0.2; done
printf 'under a low flood: high-lane queue wait p50 %.1f ms  p99 %.1f ms;  low-lane p99 %.1f ms\n' \
  "$(awk -v v="$(metric 'sandstream_queue_wait_seconds{lane="high",quantile="0.5"}')" 'BEGIN{print v*1000}')" \
  "$(awk -v v="$(metric 'sandstream_queue_wait_seconds{lane="high",quantile="0.99"}')" 'BEGIN{print v*1000}')" \
  "$(awk -v v="$(metric 'sandstream_queue_wait_seconds{lane="low",quantile="0.99"}')" 'BEGIN{print v*1000}')"
echo "service peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)"
