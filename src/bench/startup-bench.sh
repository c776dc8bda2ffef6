#!/usr/bin/env bash
# Start-up benchmark (not a test): what a scale-from-zero replica waits for. Builds the jar twice —
# the packaged form the tests and the image use (target/quarkus-app: Quarkus' aot-jar, every class
# on the JDK's own class loaders, so the AOT cache holds the application's classes too) and the
# fast-jar (target/quarkus-app-fast, Quarkus' own class loader) — then starts the packaged service
# RUNS times per variant, each on a fresh data directory with the default pools and keys given (as
# a deployment has them), and times exec to the first 200 of /q/health/ready. Variants, interleaved
# round by round so that a change in the machine's load hits them alike:
#   jdk17            JDK 17, fast-jar (its class index makes it the faster form without a cache)
#   jdk17, aot-jar   JDK 17, aot-jar
#   t25              Temurin 25, fast-jar
#   t25+aot          Temurin 25, fast-jar, AOT cache from a training run
#   image            what Dockerfile.jvm runs: Temurin 25, aot-jar, AOT cache from a training run,
#                    sqlite-jdbc's native library taken out of its jar beforehand
# The training run (made here, like the image's): start with -XX:AOTCacheOutput, wait for ready,
# run one Python execution, stop; the JVM writes the cache as it exits.
# Baselines, interleaved with them: a bare Quarkus application with the same Quarkus and extensions
# (src/bench/bare-quarkus: one endpoint and Quarkus' own health, built here offline), started as
#   bare jdk17       JDK 17, its fast-jar
#   bare image       Temurin 25, its aot-jar, its own AOT cache from a training run (ready, GET /hello)
# Printed per variant: wall time to ready (p50, min), the JVM's CPU time until then (its own threads,
# its main thread alone, and the children it reaped), Quarkus' "started in"; each as a ratio to the
# jdk17 variant, to the bare Quarkus application on the same JDK and form (ready/bare, CPU/bare:
# bare jdk17 for the JDK 17 variants, bare image for the Temurin 25 ones), and to a bare JVM start
# (`java -version`, JDK 17). On a loaded machine read the CPU columns and the ratios; wall times
# there are the load's. "started in" leaves out the JVM's own boot before Quarkus' clock starts,
# which with an AOT cache includes loading and linking every class the cache holds.
# BENCH_FLAMEGRAPH=<out.svg> (BENCH_FLAMEGRAPH_VARIANT, default jdk17) then records one more start of
# that variant with src/bench/flamegraph.sh (perf, on-CPU, the JVM without its children).
# Usage: [BENCH_NO_BUILD=1] src/bench/startup-bench.sh [runs per variant, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
runs=${1:-10}
port=${BENCH_PORT:-18090}
jdk17=${BENCH_JDK17:-/usr/lib/jvm/java-17-openjdk-amd64}
jdk25=${BENCH_JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64}
hz=$(getconf CLK_TCK)

if [ -z "${BENCH_NO_BUILD:-}" ]; then # BENCH_NO_BUILD=1: both directories are already built
  ./mvnw -B -q package -DskipTests -Dquarkus.package.jar.type=fast-jar -Dquarkus.package.output-directory=quarkus-app-fast
  ./mvnw -B -q package -DskipTests
  ./mvnw -B -o -q -f src/bench/bare-quarkus/pom.xml package -DskipTests -Dquarkus.package.jar.type=fast-jar \
    -Dquarkus.package.output-directory=quarkus-app-fast
  ./mvnw -B -o -q -f src/bench/bare-quarkus/pom.xml package -DskipTests
fi
work=$(mktemp -d)
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
# Copies: the caches are written next to the jar they belong to, never into target/quarkus-app.
cp -r target/quarkus-app-fast "$work/fast"
cp -r target/quarkus-app "$work/aot"
cp -r src/bench/bare-quarkus/target/quarkus-app-fast "$work/bare-fast"
cp -r src/bench/bare-quarkus/target/quarkus-app "$work/bare-aot"
# As the image does (Dockerfile.jvm): the native library out of sqlite-jdbc's jar, named by system properties.
mkdir "$work/aot/native"
unzip -p "$work"/aot/lib/main/org.xerial.sqlite-jdbc-*.jar "org/sqlite/native/Linux/$(uname -m)/libsqlitejdbc.so" \
  >"$work/aot/native/libsqlitejdbc.so"
sqlite_lib="-Dorg.sqlite.lib.path=native -Dorg.sqlite.lib.name=libsqlitejdbc.so"

# start <java> <app dir> [jvm options...]: starts the service on a fresh data directory (sets $pid, $data).
start() {
  local java=$1 app=$2
  shift 2
  data=$(mktemp -d "$work/data.XXXX")
  t0=$(date +%s%N)
  (cd "$app" && SANDSTREAM_DATA_DIR=$data SANDSTREAM_INGRESS_KEYS=bench-ingress-key-0123456789 \
    SANDSTREAM_API_KEYS='bench-api-key-0123456789@*' QUARKUS_HTTP_PORT=$port \
    exec "$java" "$@" -jar quarkus-run.jar >"$data/service.log" 2>&1) &
  pid=$!
}

# await_ready: polls readiness every 10 ms; sets $wall_ms, $cpu_ms (JVM threads), $main_ms (its main thread:
# the threads named java, the launcher's waiting one and the one running main) and $child_ms (reaped children).
await_ready() {
  until curl -fs -o /dev/null "http://127.0.0.1:$port/q/health/ready"; do
    kill -0 "$pid" 2>/dev/null || { cat "$data/service.log"; echo "the service died" >&2; exit 1; }
    sleep 0.01
  done
  wall_ms=$((($(date +%s%N) - t0) / 1000000))
  read -r cpu_ms child_ms < <(awk -v hz="$hz" '{printf "%d %d\n", ($14+$15)*1000/hz, ($16+$17)*1000/hz}' "/proc/$pid/stat")
  main_ms=$(cat /proc/"$pid"/task/*/stat 2>/dev/null | awk -v hz="$hz" '/^[0-9]+ \(java\) / {t += $14 + $15} END {printf "%d", t*1000/hz}')
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

started_in() {
  grep -o 'started in [0-9.]*s' "$data/service.log" | grep -o '[0-9.]*' | awk '{printf "%d", $1*1000}'
}

# The training runs, one per cache (none when only the JDK 17 flame graph is asked for: runs 0).
flame_variant=${BENCH_FLAMEGRAPH_VARIANT:-jdk17}
[ "$runs" -gt 0 ] || [[ $flame_variant == t25+aot || $flame_variant == image ]] || trained=no
declare -A train_opts=([fast]="" [aot]="$sqlite_lib" [bare-aot]="")
for app in fast aot bare-aot; do
  [ -z "${trained:-}" ] || break
  [ "$app" != bare-aot ] || [ "$runs" -gt 0 ] || continue # a flame graph alone needs no baseline
  # shellcheck disable=SC2086
  start "$jdk25/bin/java" "$work/$app" -XX:AOTCacheOutput=app.aot ${train_opts[$app]}
  await_ready
  if [ "$app" = bare-aot ]; then
    curl -fs -o /dev/null "http://127.0.0.1:$port/hello" || echo "training: GET /hello failed" >&2
  else
    curl -fs -o /dev/null -H 'Authorization: Bearer bench-api-key-0123456789' -H 'Content-Type: application/json' \
      -d '{"code":"print(6*7)"}' "http://127.0.0.1:$port/executions?wait=30" || echo "training: the execution failed" >&2
  fi
  stop
  test -s "$work/$app/app.aot" || { echo "no AOT cache was written for $app" >&2; exit 1; }
done

declare -A java=([jdk17]=$jdk17/bin/java ["jdk17, aot-jar"]=$jdk17/bin/java [t25]=$jdk25/bin/java [t25+aot]=$jdk25/bin/java
  [image]=$jdk25/bin/java ["bare jdk17"]=$jdk17/bin/java ["bare image"]=$jdk25/bin/java)
declare -A app=([jdk17]=fast ["jdk17, aot-jar"]=aot [t25]=fast [t25+aot]=fast [image]=aot ["bare jdk17"]=bare-fast
  ["bare image"]=bare-aot)
declare -A opts=([jdk17]="" ["jdk17, aot-jar"]="" [t25]="" [t25+aot]="-XX:AOTCache=app.aot" [image]="-XX:AOTCache=app.aot $sqlite_lib"
  ["bare jdk17"]="" ["bare image"]="-XX:AOTCache=app.aot")
# The bare application each variant is compared with: the same JDK, and with the cache the same form.
declare -A bare=([jdk17]="bare jdk17" ["jdk17, aot-jar"]="bare jdk17" [t25]="bare image" [t25+aot]="bare image"
  [image]="bare image" ["bare jdk17"]="bare jdk17" ["bare image"]="bare image")
variants=(jdk17 "jdk17, aot-jar" t25 t25+aot image "bare jdk17" "bare image")
declare -A walls cpus mains children starts
for round in $(seq 1 "$runs"); do
  for v in "${variants[@]}"; do
    # shellcheck disable=SC2086
    start "${java[$v]}" "$work/${app[$v]}" ${opts[$v]}
    await_ready
    walls[$v]+="$wall_ms "
    cpus[$v]+="$cpu_ms "
    mains[$v]+="$main_ms "
    children[$v]+="$child_ms "
    stop
    starts[$v]+="$(started_in) "
    rm -rf "$data"
  done
done
bare_wall="" bare_cpu=""
for _ in $(seq 1 "$runs"); do
  /usr/bin/time -f '%e %U %S' -o "$work/bare" "$jdk17/bin/java" -version 2>/dev/null
  read -r e u s <"$work/bare"
  bare_wall+="$(awk -v e="$e" 'BEGIN{printf "%d", e*1000}') "
  bare_cpu+="$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%d", (u+s)*1000}') "
done

if [ "$runs" -gt 0 ]; then
p50() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
min() { tr ' ' '\n' | grep . | sort -n | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a/b; else printf "-" }'; }

base_wall=$(echo "$bare_wall" | p50)
base_cpu=$(echo "$bare_cpu" | p50)
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $runs starts per variant"
echo "baseline, a bare JVM start ($("$jdk17/bin/java" -version 2>&1 | head -1)): wall p50 $base_wall ms, CPU p50 $base_cpu ms"
printf '%-18s %15s %15s %13s %10s %9s %9s %9s %9s %10s %9s %10s %9s\n' variant "ready p50/min" "CPU p50/min" "children p50" \
  "started in" "ready/17" "CPU/17" "ready/JVM" "CPU/JVM" "main p50" "main/bare" "ready/bare" "CPU/bare"
ref_wall=$(echo "${walls[jdk17]}" | p50)
ref_cpu=$(echo "${cpus[jdk17]}" | p50)
for v in "${variants[@]}"; do
  w=$(echo "${walls[$v]}" | p50) c=$(echo "${cpus[$v]}" | p50) m=$(echo "${mains[$v]}" | p50) b=${bare[$v]}
  printf '%-18s %7s/%5s ms %7s/%5s ms %10s ms %7s ms %9s %9s %9s %9s %7s ms %9s %10s %9s\n' "$v" "$w" "$(echo "${walls[$v]}" | min)" \
    "$c" "$(echo "${cpus[$v]}" | min)" "$(echo "${children[$v]}" | p50)" "$(echo "${starts[$v]}" | p50)" \
    "$(ratio "$w" "$ref_wall")" "$(ratio "$c" "$ref_cpu")" "$(ratio "$w" "$base_wall")" "$(ratio "$c" "$base_cpu")" \
    "$m" "$(ratio "$m" "$(echo "${mains[$b]}" | p50)")" "$(ratio "$w" "$(echo "${walls[$b]}" | p50)")" \
    "$(ratio "$c" "$(echo "${cpus[$b]}" | p50)")"
done
echo "ready/bare, CPU/bare, main/bare: against bare jdk17 for the JDK 17 variants, bare image for the Temurin 25 ones"
echo "goals (issue 23): ready <= 1000 ms with the AOT cache, <= 2000 ms on JDK 17 (on a quiet 2-core machine)"
fi

if [ -n "${BENCH_FLAMEGRAPH:-}" ]; then
  v=$flame_variant
  # shellcheck disable=SC2086
  start "${java[$v]}" "$work/${app[$v]}" -XX:+PreserveFramePointer ${opts[$v]}
  # Narrow frames left out (--minwidth 1 pixel): the SVG stays about a tenth of its size.
  FLAMEGRAPH_OPTS="--minwidth 1" "$root/src/bench/flamegraph.sh" "$BENCH_FLAMEGRAPH" 600 "$pid" \
    "sandstream start-up ($v): exec to /q/health/ready, on-CPU samples of the JVM" &
  graph=$!
  await_ready
  echo "flame graph start: ready after $wall_ms ms, JVM CPU $cpu_ms ms"
  # perf records for as long as its sleep runs: ended at readiness, so the graph is exec to ready.
  recorder=$(pgrep -P "$graph" -x perf) && sleeper=$(pgrep -P "$recorder" -x sleep) && kill "$sleeper"
  wait "$graph"
  stop
fi
