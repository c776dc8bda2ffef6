#!/usr/bin/env bash
# A flame graph of the session benchmark (not a test): runs `./mvnw -Pbench test -Dtest=SessionBenchmark`
# with frame pointers kept in the test JVM, and samples that JVM with src/bench/flamegraph.sh for the
# given seconds once it has started: its threads (launcher, sandbox I/O, session pool) and, since
# perf follows what they start, the sandboxes and compilers they spawn. The benchmark's own output
# goes to <out>.log (perf's sampling runs beside it, so its figures are a little lower than alone).
# Usage: src/bench/session-flamegraph.sh <out.svg> [seconds, default 60] [more Maven options]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1 seconds=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
./mvnw -B -o -q test-compile
./mvnw -B -o test -Pbench -Dtest=SessionBenchmark -DargLine=-XX:+PreserveFramePointer "$@" >"${out%.svg}.log" 2>&1 &
maven=$!
# The surefire fork of this checkout: a JVM whose working directory is here, started by this Maven.
fork=""
for _ in $(seq 1 600); do
  for pid in $(pgrep -f surefirebooter || true); do
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$PWD" ] && fork=$pid
  done
  [ -n "$fork" ] && break
  kill -0 "$maven" 2>/dev/null || break
  sleep 0.5
done
[ -n "$fork" ] || { echo "no surefire JVM found; see ${out%.svg}.log" >&2; wait "$maven"; exit 1; }
src/bench/flamegraph.sh "$out" "$seconds" "$fork" "sandstream session benchmark (the test JVM and the processes it starts)"
wait "$maven"
grep -E '^(machine|memory|  |language|[a-z]+ +[0-9]|cold|warm|pooled|fresh|\()' "${out%.svg}.log" | head -40 || true
