#!/usr/bin/env bash
# Ingest benchmark (not a test). Builds and starts the packaged service on a throw-away data
# directory, drives POST /events over loopback with wrk (src/bench/ingest.lua), and prints durably
# accepted events/s, request latency and the service's peak RSS. The baseline, measured in the same
# run, is the bare HTTP round trip of OPTIONS /events (same server, no parsing, no journal).
# The events are real work: the service's dispatcher follows the journal and the default python
# pool runs each accepted event as it arrives, on the same cores as ingress and wrk. The figures
# are therefore ingest while executing; each phase also prints the executions finished per second
# during it and the CPU (utime + stime) the service and its sandboxes used during it per event
# accepted in it (what is still queued at its end runs after it, uncounted). No setting makes the
# service only accept (every journalled event goes on to the dispatcher and a stored result), so no
# ingest-only figure is printed (docs/benchmarks.md: the fall from 7,413 single events/s, measured
# before the dispatcher existed, is this).
# Every phase starts on a drained journal, so it is not charged for the previous phase's events.
# Usage: src/bench/ingest-bench.sh [seconds per phase, default 15]
#   BENCH_FLAMEGRAPH=<out.svg>: a flame graph of the service over the single-events phase (src/bench/flamegraph.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
port=${BENCH_PORT:-18080}
java_opts=${BENCH_JAVA_OPTS:--Xmx256m -XX:+UseSerialGC}
[ -z "${BENCH_FLAMEGRAPH:-}" ] || java_opts="$java_opts -XX:+PreserveFramePointer"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
./mvnw -B -q package -DskipTests
data=$(mktemp -d)
# Ingest outruns execution, so the pending limit is lifted: a 429 would measure the limit, not ingest.
# Throughput, not limits, is measured: the rate limits are off and metrics are read without a key.
SANDSTREAM_SECURITY_RATE_LIMITS_INGRESS_RATE=0 SANDSTREAM_SECURITY_RATE_LIMITS_API_RATE=0 SANDSTREAM_SECURITY_PUBLIC_METRICS=true \
  SANDSTREAM_DATA_DIR=$data SANDSTREAM_INGRESS_KEYS=bench-key SANDSTREAM_JOURNAL_MAX_PENDING=1000000000 \
  QUARKUS_HTTP_PORT=$port java $java_opts -jar target/quarkus-app/quarkus-run.jar >"$data/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/q/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done

phase() { # name mode connections [batch]
  MODE=$2 BATCH=${4:-1} KEY=bench-key wrk -t1 -c"$3" -d"${seconds}s" --timeout 30s -s src/bench/ingest.lua \
    "http://127.0.0.1:$port" | sed -n 's/^RESULT //p'
}
metric() { # the sum of a metric's series
  curl -fs "http://127.0.0.1:$port/q/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%d", s}'
}
# CPU ticks (utime + stime, with what exited children left in cutime + cstime) of the service and
# every process below it: its sandboxes.
ticks() {
  ps -e -o pid=,ppid= | awk -v root="$pid" '{up[$1] = $2}
    END {for (p in up) {q = p; while ((q in up) && q != root && q > 1) q = up[q]
           if (q == root && (getline line < ("/proc/" p "/stat")) > 0) {
             sub(/.*\) /, "", line); split(line, f, " "); t += f[12] + f[13] + f[14] + f[15]}}
         printf "%d", t}'
}
drained() { # waits (up to 10 min) until every accepted event has run
  for _ in $(seq 1 1200); do [ "$(metric sandstream_journal_pending)" = 0 ] && return; sleep 0.5; done
  echo "the journal did not drain" >&2
}
MODE=single KEY=bench-key wrk -t1 -c16 -d3s -s src/bench/ingest.lua "http://127.0.0.1:$port" >/dev/null # warm-up
drained

echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), service: $java_opts, wrk on the same cores; $(uptime | sed 's/.*load/load/')"
echo "every accepted event is also executed (default python pool); cpu_ms/ev: service + sandboxes during the phase per event accepted in it"
printf '%-34s %10s %10s %8s %8s %6s %10s %11s %10s\n' phase events/s req/s p50_ms p99_ms errors ev/base executed/s cpu_ms/ev
base=""
while IFS='|' read -r name mode conns batch; do
  drained
  e0=$(metric sandstream_pool_executions_total); t0=$(ticks)
  flame=''
  if [ -n "${BENCH_FLAMEGRAPH:-}" ] && [ "$mode" = single ]; then
    src/bench/flamegraph.sh "$BENCH_FLAMEGRAPH" "$seconds" "$pid" "sandstream ingest, single events (service JVM only)" \
      >"${BENCH_FLAMEGRAPH%.svg}.log" 2>&1 &
    flame=$!
  fi
  line=$(phase "$name" "$mode" "$conns" "$batch")
  e1=$(metric sandstream_pool_executions_total); t1=$(ticks)
  [ -z "$flame" ] || wait "$flame" || true
  eval "$(echo "$line" | tr ' ' '\n' | sed 's/^/r_/')"
  executed=$(awk -v a="$e0" -v b="$e1" -v s="$seconds" 'BEGIN{printf "%.0f", (b-a)/s}')
  # CPU of the service and its sandboxes per accepted event (per request for the baseline), in ms.
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$r_requests_per_s" -v e="$r_events_per_s" -v s="$seconds" \
    'BEGIN{d = (e > 0 ? e : n) * s; printf "%.3f", (d > 0 ? t * 1000 / hz / d : 0)}')
  # Ratio: events (requests, for the baseline) per second against the baseline's requests per second.
  if [ -z "$base" ]; then base=$r_requests_per_s; r_events_per_s_cmp=$r_requests_per_s; else r_events_per_s_cmp=$r_events_per_s; fi
  printf '%-34s %10s %10s %8s %8s %6s %9.2fx %11s %10s\n' "$name" "$r_events_per_s" "$r_requests_per_s" "$r_p50_ms" \
    "$r_p99_ms" "$r_errors" "$(awk -v a="$r_events_per_s_cmp" -v b="$base" 'BEGIN{print a/b}')" "$executed" "$cpu"
done <<'PHASES'
baseline: OPTIONS /events|options|32|0
single events, 32 connections|single|32|1
batches of 10, 32 connections|batch|32|10
batches of 100, 8 connections|batch|8|100
batches of 100, 32 connections|batch|32|100
PHASES
echo "service peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)"
echo "journal: $(metric sandstream_journal_pending) events pending, $(metric sandstream_pool_executions_total) executed, $(du -sh "$data" | cut -f1) on disk; $(uptime | sed 's/.*load/load/')"
