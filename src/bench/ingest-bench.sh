#!/usr/bin/env bash
# Ingest benchmark (not a test): builds and starts the packaged service on a throw-away data
# directory, drives it over loopback with src/bench/IngestBench.java, then prints the service's
# peak RSS. Usage: src/bench/ingest-bench.sh [seconds per phase, default 15]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
port=${BENCH_PORT:-18080}
key=bench-key
./mvnw -B -q package -DskipTests
data=$(mktemp -d)
# The heap is capped the way the container images cap it; the pending limit is lifted because
# nothing executes (and drains) events in this benchmark.
SANDSTREAM_DATA_DIR=$data SANDSTREAM_INGRESS_KEYS=$key SANDSTREAM_JOURNAL_MAX_PENDING=1000000000 \
  QUARKUS_HTTP_PORT=$port java ${BENCH_JAVA_OPTS:--Xmx256m -XX:+UseSerialGC} -jar target/quarkus-app/quarkus-run.jar \
  >"$data/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/q/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1); service heap: ${BENCH_JAVA_OPTS:--Xmx256m -XX:+UseSerialGC}"
java src/bench/IngestBench.java "http://127.0.0.1:$port" "$key" "$seconds"
echo
echo "service peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)"
echo "journal on disk:  $(du -sh "$data" | cut -f1) after $(curl -fs "http://127.0.0.1:$port/q/metrics" | awk '/^sandstream_journal_pending /{printf "%d", $2}') events"
