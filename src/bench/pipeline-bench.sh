#!/usr/bin/env bash
# End-to-end benchmark (not a test): event in -> executed in a warm sandbox -> result persisted.
# Starts the packaged service on a throw-away data directory and prints (1) latency of a trivial
# snippet submitted with POST /executions?wait at low load (one client), (2) sustained executions/s
# with events pushed by wrk until the journal drains, (3) the high lane's queue wait under a low
# flood, from the service's own sandstream_queue_wait metric. Baselines in the same run: the bare HTTP
# round trip of OPTIONS /events, and the per-run-spawn model (a plain bwrap + python3 per execution,
# src/bench/spawn-baseline.py) at the same concurrency as each phase; every figure is printed beside
# them as a ratio. Also: the JVM's CPU per execution over the sustained phase (utime + stime ticks of
# /proc/<pid>/stat, sandboxes excluded) and the service's peak RSS.
# Usage: src/bench/pipeline-bench.sh [seconds per phase, default 15]
#   BENCH_JAVA_OPTS: the JVM's options (default -Xmx256m: the heap a 1 GiB container gets from the image's
#   MaxRAMPercentage=25; about 36 MB of it is live under this load, and G1 grows into whatever it may); BENCH_SKIP_BUILD=1: run the jar built already
#   (BENCH_JAR: which one, default target/quarkus-app/quarkus-run.jar);
#   BENCH_FLAMEGRAPH=<out.svg>: a flame graph of the service over the sustained phase (src/bench/flamegraph.sh);
#   WARMUP (60): seconds of submit+wait before its latency is measured; PUSH_WARMUP (the phase's seconds):
#   seconds of unmeasured pushing, drained, before the sustained phase.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
port=${BENCH_PORT:-18081}
url="http://127.0.0.1:$port"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${BENCH_SKIP_BUILD:-}" ] || ./mvnw -B -q package -DskipTests
java_opts=${BENCH_JAVA_OPTS:--Xmx256m}
[ -z "${BENCH_FLAMEGRAPH:-}" ] || java_opts="$java_opts -XX:+PreserveFramePointer"
data=$(mktemp -d)
# Throughput, not limits, is measured: the rate limits are off and metrics are read without a key.
SANDSTREAM_SECURITY_RATE_LIMITS_INGRESS_RATE=0 SANDSTREAM_SECURITY_RATE_LIMITS_API_RATE=0 SANDSTREAM_SECURITY_PUBLIC_METRICS=true \
  SANDSTREAM_DATA_DIR=$data SANDSTREAM_INGRESS_KEYS=bench-key SANDSTREAM_API_KEYS='bench-api@*' \
  SANDSTREAM_JOURNAL_MAX_PENDING=1000000 QUARKUS_HTTP_PORT=$port \
  java $java_opts -jar "${BENCH_JAR:-target/quarkus-app/quarkus-run.jar}" >"$data/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; cp "$data/service.log" "${TMPDIR:-/tmp}/pipeline-bench-service.log"; rm -rf "$data"' EXIT
for _ in $(seq 1 150); do curl -fs "$url/q/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
sleep 2 # let the warm pools fill

# awk reads to the end: were curl cut off (SIGPIPE), pipefail would end the script.
metric() { curl -fs "$url/q/metrics" | awk -v m="$1" 'index($0, m) == 1 && !found {print $2; found = 1}'; }
wrk_run() { wrk -t1 "$@" --timeout 60s -s src/bench/ingest.lua "$url" | sed -n 's/^RESULT //p'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a/b; else print "n/a" }'; }
# CPU time of the service's JVM (its threads, not the sandboxes), in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
# Sustained executions run in 16 sessions at once (the wrk script's SESSION_COUNT).
concurrency=16

echo "machine: $(nproc) cores; wrk, the service and its sandboxes share them; service: $java_opts; $(uptime | sed 's/.*load/load/')"
base=$(MODE=options KEY=bench-key wrk_run -c8 -d"${seconds}s")
printf 'baseline OPTIONS /events, 8 connections:        %8s req/s\n' "$(field "$base" requests_per_s)"
base1=$(MODE=options KEY=bench-key wrk_run -c1 -d"${seconds}s")
printf 'baseline OPTIONS /events, 1 connection:          p50 %s ms  p99 %s ms\n' \
  "$(field "$base1" p50_ms)" "$(field "$base1" p99_ms)"
spawn1=$(python3 src/bench/spawn-baseline.py 1 "$seconds" | sed -n 's/^RESULT //p')
printf 'baseline per-run spawn (bwrap + python3), 1 at a time:  p50 %s ms  p99 %s ms  (%s executions/s, %s ms CPU each)\n' \
  "$(field "$spawn1" p50_ms)" "$(field "$spawn1" p99_ms)" "$(field "$spawn1" executions_per_s)" "$(field "$spawn1" cpu_ms_per_execution)"
spawnN=$(python3 src/bench/spawn-baseline.py $concurrency "$seconds" | sed -n 's/^RESULT //p')
printf 'baseline per-run spawn (bwrap + python3), %d at a time: p50 %s ms  p99 %s ms  (%s executions/s, %s ms CPU each)\n' \
  $concurrency "$(field "$spawnN" p50_ms)" "$(field "$spawnN" p99_ms)" "$(field "$spawnN" executions_per_s)" \
  "$(field "$spawnN" cpu_ms_per_execution)"

# WARMUP (60) seconds of the same requests first: the latency of a service that has run a while.
# With 3 s, its p50 was 3.2-5.0 ms; after 45-60 s, 1.7-2.0 ms (C2 compiles the path over the first minute).
MODE=wait API=bench-api wrk_run -c1 -d"${WARMUP:-60}s" >/dev/null
lat=$(MODE=wait API=bench-api wrk_run -c1 -d"${seconds}s")
printf 'submit + wait for the persisted result (1 client): p50 %s ms  p99 %s ms  (%s executions/s)\n' \
  "$(field "$lat" p50_ms)" "$(field "$lat" p99_ms)" "$(field "$lat" requests_per_s)"
printf '  vs bare HTTP round trip: p50 %s  p99 %s;  vs per-run spawn: p50 %s  p99 %s  executions/s %s\n' \
  "$(ratio "$(field "$lat" p50_ms)" "$(field "$base1" p50_ms)")" "$(ratio "$(field "$lat" p99_ms)" "$(field "$base1" p99_ms)")" \
  "$(ratio "$(field "$lat" p50_ms)" "$(field "$spawn1" p50_ms)")" "$(ratio "$(field "$lat" p99_ms)" "$(field "$spawn1" p99_ms)")" \
  "$(ratio "$(field "$lat" requests_per_s)" "$(field "$spawn1" executions_per_s)")"

executed() { metric 'sandstream_results_put_seconds_count{outcome="success",store="sqlite"}'; }
drained() { while [ "$(metric 'sandstream_journal_pending ')" != "0.0" ]; do sleep 0.2; done; }
# The same push first, unmeasured and drained before the phase, so that the batch path's
# compilations are not counted in the CPU per execution (PUSH_WARMUP seconds, default the phase's).
# With 3 s of it, C2 was still 0.32 ms of 0.96 ms per execution in the next push at load 15.
MODE=batch BATCH=50 KEY=bench-key CODE='1+1' wrk_run -c4 -d"${PUSH_WARMUP:-$seconds}s" >/dev/null
drained
done_before=$(executed)
ticks_before=$(ticks)
start=$(date +%s.%N)
if [ -n "${BENCH_FLAMEGRAPH:-}" ]; then
  src/bench/flamegraph.sh "$BENCH_FLAMEGRAPH" "$seconds" "$pid" \
    "sandstream pipeline, sustained phase (service JVM only)" >"${BENCH_FLAMEGRAPH%.svg}.log" 2>&1 &
  flame=$!
fi
# Pushed in batches of 50 (Event Grid delivers batches too), so that accepting the events does not
# take the CPU the executions need.
push=$(MODE=batch BATCH=50 KEY=bench-key CODE='1+1' wrk_run -c4 -d"${seconds}s")
drained
end=$(date +%s.%N)
ticks_after=$(ticks)
ran=$(awk -v a="$(executed)" -v b="$done_before" 'BEGIN{printf "%d", a - b}')
rate=$(awk -v n="$ran" -v a="$start" -v b="$end" 'BEGIN{printf "%.0f", n/(b-a)}')
cpu=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v n="$ran" 'BEGIN{printf "%.3f", t * 1000 / hz / n}')
printf 'sustained: %s results persisted (pushed in %ss) after %.1fs: %s executions/s  (%s per-run spawn at %d)\n' \
  "$ran" "$seconds" "$(echo "$end - $start" | awk '{print $1 - $3}')" "$rate" \
  "$(ratio "$rate" "$(field "$spawnN" executions_per_s)")" $concurrency
printf '  JVM CPU per execution: %s ms  (%s the CPU of one per-run spawn;  load: %s)\n' "$cpu" \
  "$(ratio "$cpu" "$(field "$spawnN" cpu_ms_per_execution)")" "$(uptime | sed 's/.*load average: //')"
echo "  service peak RSS so far: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)"
[ -z "${BENCH_FLAMEGRAPH:-}" ] || { wait $flame || true; sed 's/^/  /' "${BENCH_FLAMEGRAPH%.svg}.log"; }

MODE=single KEY=bench-key PRIORITY=low CODE='sum(range(20000))' wrk_run -c12 -d"${seconds}s" >/dev/null &
flood=$!
sleep 1
# High work trickles in (one event every 20 ms) while the low flood saturates the pool. It uses
# sessions of its own (two: the pool's 20 hold the flood's 16 and one more): a session runs its
# events in arrival order, whatever their priority.
MODE=single KEY=bench-key PRIORITY=high CODE='1+1' DELAY_MS=20 SESSIONS=urgent- SESSION_COUNT=2 wrk_run -c1 -d"$((seconds - 2))s" >/dev/null
wait $flood
drained
printf 'under a low flood: high-lane queue wait p50 %.1f ms  p99 %.1f ms;  low-lane p99 %.1f ms\n' \
  "$(awk -v v="$(metric 'sandstream_queue_wait_seconds{lane="high",quantile="0.5"}')" 'BEGIN{print v*1000}')" \
  "$(awk -v v="$(metric 'sandstream_queue_wait_seconds{lane="high",quantile="0.99"}')" 'BEGIN{print v*1000}')" \
  "$(awk -v v="$(metric 'sandstream_queue_wait_seconds{lane="low",quantile="0.99"}')" 'BEGIN{print v*1000}')"
echo "service peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)"
