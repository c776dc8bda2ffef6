#!/usr/bin/env bash
# Scale-out benchmark (not a test): the Kafka journal with one and with two instances against the
# embedded SQLite journal, all measured in one run on this host. Builds the package, starts a KRaft
# broker (KafkaBroker's main, on the test classpath) in a JVM of its own, then for each set-up starts
# the packaged service(s) on throw-away data directories and prints (1) the latency of a trivial
# snippet submitted with POST /executions?wait by one client, (2) sustained executions/s: batches of
# 50 trivial events pushed by wrk for N seconds, then timed until sandstream_journal_pending is 0.0 on
# every instance, with the CPU time each set-up's service JVM(s) (and the broker) spent per execution
# in that phase (utime + stime from /proc/<pid>/stat), which load on the machine does not inflate as it
# does wall-clock figures, and the service JVMs' collections (jstat) and the machine's idle share over
# the same phase: a phase slower than its CPU explains, with the machine idle, is a stall, not load.
# Each Kafka set-up has topics and a consumer group of its own.
# Usage: src/bench/scaleout-bench.sh [seconds per phase, default 15]
# PHASES="sqlite kafka-1" runs only those set-ups; ROUNDS=N (1) runs them N times in turn, each round on
# fresh topics and data directories, and prints the median of the rounds' ratios (the machine's speed
# drifts over minutes; each round compares its own pair); PROFILE=<dir> records a JFR of each service JVM's
# sustained phase there (<set-up>-<instance>.jfr, the last round's); SKIP_BUILD=1 uses the jar already built; BENCH_PORT
# (18091) is the first instance's HTTP port; BENCH_FLAMEGRAPH=<out.svg> draws a flame graph of the first
# service JVM during each set-up's pushing (src/bench/flamegraph.sh), <out>-<set-up>.svg. WARMUP (60) is
# the seconds of submit+wait before the latency is measured: a JVM just started runs the Kafka clients'
# code interpreted for its first thousand or so requests (the p50 falls to a third over them), and C2
# is still busy after a minute on two cores, which is the JIT, not the path (10 s of warm-up left
# Kafka-1 at 2.8x SQLite's p50, 60 s at 1.4-1.6x, docs/kafka-path-cost.md). LATENCY_ONLY=1 measures the latency only (no sustained phase).
# PUSH_WARMUP (the phase's seconds; 0: none) pushes the same batches unmeasured and drains them before
# the measured sustained phase: the batch path is other code than submit+wait, and its first phase on
# a fresh JVM spent as much CPU in C2 as in the path itself (Kafka-1: 0.94 of 2.47 ms per execution,
# then 0.10 of 1.23 in the next phase; docs/kafka-path-cost.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
phases=${PHASES:-sqlite kafka-1 kafka-2}
[ -n "${SKIP_BUILD:-}" ] || ./mvnw -B -q package -DskipTests
work=$(mktemp -d)
broker='' services=()
stop() { for p in "$@"; do kill "$p" 2>/dev/null || true; done; for p in "$@"; do wait "$p" 2>/dev/null || true; done; }
trap 'stop "${services[@]}" ${broker:+"$broker"}; rm -rf "$work"' EXIT

./mvnw -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$work/classpath"
java -Xmx512m -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
  -cp "$(cat "$work/classpath"):target/test-classes:target/classes" io.sandstream.kafka.KafkaBroker \
  >"$work/broker.out" 2>"$work/broker.log" &
broker=$!
for _ in $(seq 1 600); do grep -qs '^BOOTSTRAP ' "$work/broker.out" && break; sleep 0.1; done
bootstrap=$(sed -n 's/^BOOTSTRAP //p' "$work/broker.out")
[ -n "$bootstrap" ] || { echo "the Kafka broker did not start:" >&2; cat "$work/broker.log" >&2; exit 1; }

port=${BENCH_PORT:-18091} # instance i listens on port + i
url() { echo "http://127.0.0.1:$((port + $1))"; }
# Sum of the samples of one metric on instance $1 whose line starts with $2 and holds $3 ("none" when it does not answer).
metric() { curl -fs "$(url "$1")/q/metrics" | awk -v m="$2" -v f="${3:-}" 'index($0, m) == 1 && (f == "" || index($0, f)) {s += $2; n++} END {print n ? s : "none"}'; }
total() { local i s=0; for i in $(seq 0 $(($1 - 1))); do s=$(awk -v a="$s" -v b="$(metric "$i" "$2" "${3:-}")" 'BEGIN{print a + b}'); done; echo "$s"; }
wrk_run() { local u=$1; shift; wrk -t1 "$@" --timeout 60s -s src/bench/ingest.lua "$u" | sed -n 's/^RESULT //p'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# CPU ticks (user + system) a process used so far; the command name before ") " may hold spaces.
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
# Milliseconds of CPU per execution: ticks $1 over $2 executions.
per_exec() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN{printf "%.2f", (n > 0 ? t * 1000 / hz / n : 0)}'; }
rss() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
# One JVM's collections so far (jstat -gc): young pauses, concurrent cycles, full collections, seconds paused.
gcs() { jstat -gc "$1" | awk 'NR == 1 {for (i = 1; i <= NF; i++) c[$i] = i} NR == 2 {print $c["YGC"], $c["CGC"], $c["FGC"], $c["GCT"]}'; }
# The machine's idle (and I/O wait) ticks and all its ticks so far, over every core (/proc/stat).
idle() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t}' /proc/stat; }
# Every Kafka instance's last word on the group is "took N partitions" (no rebalance under way).
settled() { local i; for i in $(seq 0 $(($1 - 1))); do grep -E 'took [0-9]+ partitions|gave up|lost [0-9]+' "$work/$2-$i.log" | tail -1 | grep -q took || return 1; done; }
drained() { local i; for i in $(seq 0 $(($1 - 1))); do [ "$(metric "$i" 'sandstream_journal_pending ')" = 0 ] || return 1; done; }
await_drained() { # instances, set-up name
  local deadline=$((SECONDS + 300))
  until drained "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "$2: never drained, pending $(metric 0 'sandstream_journal_pending ')" >&2; break; }
    sleep 0.2
  done
}

declare -A p50 rate cpu
# phase NAME INSTANCES [ENV=VALUE...]: starts the set-up, measures it, prints one line, stops it.
phase() {
  local name=$1 n=$2 i; shift 2
  services=()
  for i in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086 # BENCH_JAVA_OPTS: several options
    # Throughput, not limits, is measured: the rate limits are off and metrics are read without a key.
    env SANDSTREAM_SECURITY_RATE_LIMITS_INGRESS_RATE=0 SANDSTREAM_SECURITY_RATE_LIMITS_API_RATE=0 \
      SANDSTREAM_SECURITY_PUBLIC_METRICS=true SANDSTREAM_INGRESS_KEYS=bench-key SANDSTREAM_API_KEYS='bench-api@*' \
      SANDSTREAM_JOURNAL_MAX_PENDING=1000000 SANDSTREAM_DATA_DIR="$work/$name-$i.data" QUARKUS_HTTP_PORT=$((port + i)) \
      SANDSTREAM_SESSIONS_FIRST_UID=$((600000 + 10000 * i)) \
      SANDSTREAM_KAFKA_INSTANCE_ID="$name-$i" "$@" \
      java ${BENCH_JAVA_OPTS:--Xmx512m} ${BENCH_FLAMEGRAPH:+-XX:+PreserveFramePointer} -jar target/quarkus-app/quarkus-run.jar >"$work/$name-$i.log" 2>&1 &
    services+=($!)
  done
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 1 300); do curl -fs "$(url "$i")/q/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
    # shellcheck disable=SC2015 # not ready: the process is gone or does not answer
    kill -0 "${services[$i]}" 2>/dev/null && curl -fs "$(url "$i")/q/health/ready" >/dev/null || { echo "$name-$i not ready:" >&2; tail -30 "$work/$name-$i.log" >&2; exit 1; }
  done
  if [ $# -gt 0 ]; then for _ in $(seq 1 300); do settled "$n" "$name" && break; sleep 0.2; done; fi
  sleep 2 # let the warm pools fill

  MODE=wait API=bench-api wrk_run "$(url 0)" -c1 -d"${WARMUP:-60}s" >/dev/null # warm-up
  local lat; lat=$(MODE=wait API=bench-api wrk_run "$(url 0)" -c1 -d"${seconds}s")
  p50[$name]=$(field "$lat" p50_ms)
  if [ -n "${LATENCY_ONLY:-}" ]; then
    printf '%-8s %d instance(s): submit+wait p50 %6s ms  p99 %6s ms (after %ss of warm-up; %s)\n' "$name" "$n" "${p50[$name]}" \
      "$(field "$lat" p99_ms)" "${WARMUP:-60}" "$(uptime | sed 's/.*load/load/')"
    stop "${services[@]}"
    services=()
    rm -rf "$work/$name"-*.data
    return
  fi

  local ran0 acc0 start end pushes=() before=() out=() ran acc cpu0=() bcpu0 scpu=0 flame='' gc0=() gc='0 0 0 0' idle0
  if [ "${PUSH_WARMUP:-$seconds}" -gt 0 ]; then # the same pushing, unmeasured, then drained: the JIT's share
    for i in $(seq 0 $((n - 1))); do
      MODE=batch BATCH=50 KEY=bench-key CODE='1+1' wrk_run "$(url "$i")" -c$((4 / n)) -d"${PUSH_WARMUP:-$seconds}s" >/dev/null &
      pushes+=($!)
    done
    wait "${pushes[@]}"
    pushes=()
    await_drained "$n" "$name"
  fi
  for i in $(seq 0 $((n - 1))); do before+=("$(metric "$i" 'sandstream_pool_executions_total{')"); done
  if [ -n "${PROFILE:-}" ]; then
    for i in $(seq 0 $((n - 1))); do jcmd "${services[$i]}" JFR.start name=bench settings=profile >/dev/null; done
  fi
  for i in $(seq 0 $((n - 1))); do cpu0+=("$(ticks "${services[$i]}")"); gc0+=("$(gcs "${services[$i]}")"); done
  bcpu0=$(ticks "$broker") idle0=$(idle)
  ran0=$(total "$n" 'sandstream_pool_executions_total{') acc0=$(total "$n" 'sandstream_events_received_total{' 'outcome="accepted"')
  start=$(date +%s.%N)
  # Pushed in batches of 50 (as Event Grid delivers), 4 connections split over the instances.
  for i in $(seq 0 $((n - 1))); do
    MODE=batch BATCH=50 KEY=bench-key CODE='1+1' wrk_run "$(url "$i")" -c$((4 / n)) -d"${seconds}s" >"$work/push-$i" &
    pushes+=($!)
  done
  if [ -n "${BENCH_FLAMEGRAPH:-}" ]; then
    src/bench/flamegraph.sh "${BENCH_FLAMEGRAPH%.svg}-$name.svg" "$seconds" "${services[0]}" \
      "sandstream $name, sustained phase ($(uptime | sed 's/.*load/load/'))" &
    flame=$!
  fi
  wait "${pushes[@]}"
  [ -z "$flame" ] || wait "$flame"
  await_drained "$n" "$name"
  end=$(date +%s.%N)
  for i in $(seq 0 $((n - 1))); do
    scpu=$((scpu + $(ticks "${services[$i]}") - ${cpu0[$i]}))
    gc=$(echo "$gc $(gcs "${services[$i]}") ${gc0[$i]}" | awk '{printf "%d %d %d %.2f", $1 + $5 - $9, $2 + $6 - $10, $3 + $7 - $11, $4 + $8 - $12}')
  done
  local bcpu=$(($(ticks "$broker") - bcpu0)) idled
  idled=$(echo "$idle0 $(idle)" | awk '{printf "%.0f", 100 * ($3 - $1) / ($4 - $2)}')
  if [ -n "${PROFILE:-}" ]; then
    mkdir -p "$PROFILE"
    for i in $(seq 0 $((n - 1))); do
      jcmd "${services[$i]}" JFR.stop name=bench filename="$(realpath "$PROFILE")/$name-$i.jfr" >/dev/null
    done
  fi
  ran=$(awk -v a="$(total "$n" 'sandstream_pool_executions_total{')" -v b="$ran0" 'BEGIN{print a - b}')
  acc=$(awk -v a="$(total "$n" 'sandstream_events_received_total{' 'outcome="accepted"')" -v b="$acc0" 'BEGIN{print a - b}')
  rate[$name]=$(awk -v r="$ran" -v a="$start" -v b="$end" 'BEGIN{printf "%.0f", r / (b - a)}')
  cpu[$name]=$(per_exec "$scpu" "$ran")
  for i in $(seq 0 $((n - 1))); do
    out+=("$(rss "${services[$i]}") MiB, ran $(awk -v a="$(metric "$i" 'sandstream_pool_executions_total{')" -v b="${before[$i]}" 'BEGIN{print a - b}')")
  done
  # "accepted" can trail "executed" by the batches in flight when wrk stops: journalled, but their client
  # hung up before the answer that counts them. With Kafka the drain is seen up to ~1s late (lag read each second).
  printf '%-8s %d instance(s): submit+wait p50 %6s ms  p99 %6s ms | %6s accepted in %ss, %6s executed after %5.1fs: %5s executions/s | peak RSS, executed: %s\n' \
    "$name" "$n" "${p50[$name]}" "$(field "$lat" p99_ms)" "$acc" "$seconds" "$ran" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN{print b - a}')" "${rate[$name]}" "$(IFS=';'; echo "${out[*]}")"
  printf '%-8s CPU per execution (sustained phase): service JVM(s) %s ms, broker %s ms\n' "$name" "${cpu[$name]}" \
    "$( [ $# -gt 0 ] && per_exec "$bcpu" "$ran" || echo '-')"
  # A phase slower than its CPU explains shows here: the machine idle with work waiting is a stall, not load.
  echo "$gc $idled" | awk -v n="$name" '{printf "%-8s sustained phase: service GC %d young pauses, %d concurrent cycles, %d full, %.2f s paused; machine idle %d %%\n", n, $1, $2, $3, $4, $5}'
  grep -h -o 'errors=[1-9][0-9]*' "$work"/push-* | sed "s/^/  push $name: /" || true
  stop "${services[@]}"
  services=()
  rm -rf "$work/$name"-*.data # the next round starts on empty data directories
}

echo "machine: $(nproc) cores; wrk, the broker and the service(s) share them; Kafka at $bootstrap; $(uptime)"
kafka() { echo SANDSTREAM_JOURNAL_KIND=kafka SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS="$bootstrap" \
  SANDSTREAM_KAFKA_TOPIC_PREFIX="bench-$1-r$round-" SANDSTREAM_KAFKA_GROUP_ID="bench-$1-r$round"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
rounds=${ROUNDS:-1} rate_ratios='' p50_ratios=''
for round in $(seq 1 "$rounds"); do
  [ "$rounds" = 1 ] || echo "round $round of $rounds"
  for p in $phases; do
    # shellcheck disable=SC2046 # the words of kafka's answer are separate assignments
    case $p in
      sqlite) phase sqlite 1 ;;
      kafka-1) phase kafka-1 1 $(kafka kafka-1) ;;
      kafka-2) phase kafka-2 2 $(kafka kafka-2) ;;
      *) echo "unknown set-up $p (sqlite, kafka-1, kafka-2)" >&2; exit 2 ;;
    esac
  done
  if [ -n "${LATENCY_ONLY:-}" ] && [ -n "${p50[sqlite]:-}" ] && [ -n "${p50[kafka-1]:-}" ]; then
    echo "kafka-1 vs sqlite:  submit+wait p50 x$(ratio "${p50[kafka-1]}" "${p50[sqlite]}") (goal <= 2)"
    p50_ratios="$p50_ratios $(ratio "${p50[kafka-1]}" "${p50[sqlite]}")"
  fi
  if [ -n "${rate[sqlite]:-}" ] && [ -n "${rate[kafka-1]:-}" ]; then
    echo "kafka-1 vs sqlite:  submit+wait p50 x$(ratio "${p50[kafka-1]}" "${p50[sqlite]}") (goal <= 2), executions/s x$(ratio "${rate[kafka-1]}" "${rate[sqlite]}") (goal >= 0.8), service CPU per execution x$(ratio "${cpu[kafka-1]}" "${cpu[sqlite]}") (the Kafka path's cost)"
    rate_ratios="$rate_ratios $(ratio "${rate[kafka-1]}" "${rate[sqlite]}")" p50_ratios="$p50_ratios $(ratio "${p50[kafka-1]}" "${p50[sqlite]}")"
  fi
  if [ -n "${rate[kafka-1]:-}" ] && [ -n "${rate[kafka-2]:-}" ]; then
    echo "kafka-2 vs kafka-1: executions/s x$(ratio "${rate[kafka-2]}" "${rate[kafka-1]}") (scale-out with both instances on this one host)"
  fi
done
if [ "$rounds" -gt 1 ] && [ -n "$p50_ratios" ]; then
  # Rounds alternate the set-ups, so a machine that slows down or speeds up during the run moves both.
  echo "kafka-1 vs sqlite over $rounds rounds (medians):${rate_ratios:+ executions/s x$(echo "$rate_ratios" | median) (each round:$rate_ratios),} submit+wait p50 x$(echo "$p50_ratios" | median) (each round:$p50_ratios)"
fi
echo "load at the end: $(uptime)"
echo "broker RSS at the end: $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$broker/status")"
