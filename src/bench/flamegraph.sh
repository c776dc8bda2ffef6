#!/usr/bin/env bash
# Flame graph of what the CPU does (not a test): samples on-CPU stacks with perf for a while and
# renders them as an SVG. Java frames are named from the JVM's own perf map (`jcmd <pid>
# Compiler.perfmap`); start the JVM with -XX:+PreserveFramePointer so that perf can walk compiled Java
# frames. The SVG is drawn by the `flamegraph` npm package from `perf script`.
#
# Usage: src/bench/flamegraph.sh <out.svg> <seconds> <pid|all> [title]
#   pid: that process and its threads, children excluded;
#   all: every process on the machine (the service, its sandboxes, the load generator).
# A benchmark script runs it over its main phase when BENCH_FLAMEGRAPH=<out.svg> is set.
set -euo pipefail
out=$1 seconds=$2 target=$3 title=${4:-$(basename "$out" .svg)}
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=$root/target/flamegraph-tools
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
[ -x "$tools/node_modules/.bin/flamegraph" ] \
  || npm install --silent --no-audit --no-fund --prefix "$tools" flamegraph@1.3.0 >/dev/null
data=$(mktemp)
maps=()
trap 'rm -f "$data" "$data.txt" "${maps[@]}"' EXIT
if [ "$target" = all ]; then scope=(-a); else scope=(-p "$target"); fi
perf record -q -F 499 -g "${scope[@]}" -o "$data" -- sleep "$seconds" 2>/dev/null
# Name the JIT-compiled frames: every JVM sampled writes its code cache map to /tmp/perf-<pid>.map.
for pid in $(perf script -i "$data" -F pid 2>/dev/null | sort -u); do
  case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
    */java) jcmd "$pid" Compiler.perfmap >/dev/null 2>&1 && maps+=("/tmp/perf-$pid.map") || true ;;
  esac
done
# One frame per function: the offsets inside a function are cut off.
perf script -i "$data" 2>/dev/null | sed -E 's/\+0x[0-9a-f]+ \(/ (/' >"$data.txt"
mkdir -p "$(dirname "$out")"
"$tools/node_modules/.bin/flamegraph" -t perf --titletext "$title" --countname samples <"$data.txt" >"$out"
echo "flame graph: $out ($(grep -c 'cpu-clock' "$data.txt") samples in ${seconds}s)"
