#!/usr/bin/env python3
"""The service JVM's CPU per persisted execution, by thread group, and an interleaved A/B (not a test).

Starts one service per build (each on a fresh data directory and a port of its own, all at once),
warms each up with a push of events that is drained, then runs ROUNDS rounds: in each, every build
in turn gets the sustained push of pipeline-bench.sh (events running `1+1` in 16 sessions, pushed
by wrk in batches of 50 for SECONDS) until its journal drains, while the others idle. Per push it
reads the utime + stime ticks of every thread of the driven JVM (/proc/<pid>/task/*/stat) before
and after and divides them by the results persisted in between; threads are grouped by their full
Java name (`jcmd Thread.print`: /proc only has 15 characters of it). Ticks of threads that ended
during the push (sandboxes destroyed) are in "ended threads". At the end: the median of each group
per build, and the load average beside every figure.

Usage: src/bench/cpu-split.py SECONDS ROUNDS APP_DIR [APP_DIR...]
  APP_DIR: a copy of target/quarkus-app (one per build). CPU_SPLIT_PORT: first port (18300);
  CPU_SPLIT_WARMUP: seconds of the warm-up push per build (45); BENCH_JAVA_OPTS as pipeline-bench.sh.
  The Kafka path: SANDSTREAM_JOURNAL_KIND=kafka and SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS in the environment
  (each build gets topics and a group of its own), CPU_SPLIT_BROKER=<the broker's pid> to add its CPU.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GROUPS = [
    ("event loops", r"vert\.x-eventloop-thread-"),
    ("quarkus workers", r"executor-thread-|vert\.x-worker-thread-"),
    ("dispatcher", r"^dispatcher$"),
    ("sandbox ctl readers", r"^sandbox-.*-ctl$"),
    ("sandbox out readers", r"^sandbox-.*-out$"),
    ("sandbox err readers", r"^sandbox-.*-err$"),
    ("sandbox workers", r"^sandbox-worker-"),
    ("sandbox timers", r"^sandbox-timer-"),
    ("process reaper", r"process reaper"),
    ("sqlite writer", r"-writer$"),
    ("journal reader", r"^journal-reader$"),
    ("kafka lane consumer", r"^kafka-lanes$"),
    ("kafka results reader", r"^kafka-results$"),
    ("kafka producer", r"^kafka-producer-network-thread"),
    ("kafka other", r"^kafka-"),
    ("JIT", r"Compiler|C1 |C2 "),
    ("GC", r"^G1 |^GC |GC Thread|G1 Conc|G1 Refine|G1 Service"),
    ("VM", r"^VM "),
]


def group_of(name):
    for group, pattern in GROUPS:
        if re.search(pattern, name):
            return group
    return "other"


def thread_ticks(pid):
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[int(tid)] = int(fields[11]) + int(fields[12])
    return ticks


def process_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def thread_names(pid):
    out = subprocess.run(["jcmd", str(pid), "Thread.print"], capture_output=True, text=True).stdout
    names = {}
    for m in re.finditer(r'^"([^"]*)".*?nid=(0x[0-9a-f]+|\d+)', out, re.M):
        nid = m.group(2)
        names[int(nid, 16) if nid.startswith("0x") else int(nid)] = m.group(1)
    return names


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/q/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name):
                return float(line.split()[-1])
    return 0.0


STORE = "kafka" if os.environ.get("SANDSTREAM_JOURNAL_KIND") == "kafka" else "sqlite"
BROKER = int(os.environ["CPU_SPLIT_BROKER"]) if os.environ.get("CPU_SPLIT_BROKER") else None


def executed(port):
    return metric(port, f'sandstream_results_put_seconds_count{{outcome="success",store="{STORE}"}}')


def drained(port):
    while metric(port, "sandstream_journal_pending ") != 0.0:
        time.sleep(0.2)


def push(port, seconds):
    env = dict(os.environ, MODE="batch", BATCH="50", KEY="bench-key", CODE="1+1")
    subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds}s", "--timeout", "60s", "-s",
                    os.path.join(ROOT, "src/bench/ingest.lua"), f"http://127.0.0.1:{port}"],
                   env=env, stdout=subprocess.DEVNULL, check=True)


def load():
    return open("/proc/loadavg").read().split()[0]


class Service:
    def __init__(self, app, port):
        self.app, self.port = app, port
        self.data = tempfile.mkdtemp(prefix="cpu-split-")
        env = dict(os.environ, SANDSTREAM_SECURITY_RATE_LIMITS_INGRESS_RATE="0",
                   SANDSTREAM_SECURITY_RATE_LIMITS_API_RATE="0", SANDSTREAM_SECURITY_PUBLIC_METRICS="true",
                   SANDSTREAM_DATA_DIR=self.data, SANDSTREAM_INGRESS_KEYS="bench-key",
                   SANDSTREAM_API_KEYS="bench-api@*", SANDSTREAM_JOURNAL_MAX_PENDING="1000000",
                   QUARKUS_HTTP_PORT=str(port), SANDSTREAM_KAFKA_TOPIC_PREFIX=f"cpu-split-{port}-{os.getpid()}-",
                   SANDSTREAM_KAFKA_GROUP_ID=f"cpu-split-{port}-{os.getpid()}")
        opts = os.environ.get("BENCH_JAVA_OPTS", "-Xmx256m").split()
        self.log = open(os.path.join(self.data, "service.log"), "w")
        self.proc = subprocess.Popen(["java", *opts, "-jar", os.path.join(app, "quarkus-run.jar")], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/q/health/ready").read()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(2)

    def measure(self, seconds):
        names = thread_names(self.pid)
        before, total_before, done_before = thread_ticks(self.pid), process_ticks(self.pid), executed(self.port)
        broker_before = process_ticks(BROKER) if BROKER else 0
        start = time.time()
        push(self.port, seconds)
        drained(self.port)
        elapsed = time.time() - start
        after, total_after, done_after = thread_ticks(self.pid), process_ticks(self.pid), executed(self.port)
        broker_after = process_ticks(BROKER) if BROKER else 0
        names.update(thread_names(self.pid))
        ran = done_after - done_before
        per = lambda ticks: ticks * 1000.0 / HZ / ran
        groups = {}
        for tid, ticks in after.items():
            group = group_of(names.get(tid, "?"))
            groups[group] = groups.get(group, 0) + ticks - before.get(tid, 0)
        groups["ended threads"] = (total_after - total_before) - sum(groups.values())
        split = {g: per(t) for g, t in groups.items()}
        split["total"] = per(total_after - total_before)
        if BROKER:
            split["broker (other JVM)"] = per(broker_after - broker_before)
        return ran, ran / elapsed, split

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.data, ignore_errors=True)


def main():
    seconds, rounds, apps = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    port = int(os.environ.get("CPU_SPLIT_PORT", "18300"))
    warmup = int(os.environ.get("CPU_SPLIT_WARMUP", "45"))
    services = [Service(app, port + i) for i, app in enumerate(apps)]
    try:
        print(f"machine: {os.cpu_count()} cores; {len(apps)} build(s): " + ", ".join(
            f"{chr(65 + i)}={a}" for i, a in enumerate(apps)) + f"; load {load()}", flush=True)
        for s in services:
            push(s.port, warmup)
            drained(s.port)
        results = [[] for _ in services]
        for r in range(rounds):
            order = list(range(len(services)))
            if r % 2:
                order.reverse()
            for i in order:
                ran, rate, split = services[i].measure(seconds)
                results[i].append(split)
                print(f"round {r + 1} {chr(65 + i)}: {ran:.0f} executions, {rate:.0f}/s, JVM CPU "
                      f"{split['total']:.3f} ms/execution (load {load()})", flush=True)
        names = ["total"] + [g for g, _ in GROUPS] + ["other", "ended threads", "broker (other JVM)"]
        print("median ms of JVM CPU per execution, by thread group, over " + f"{rounds} rounds:")
        print(f"{'group':22}" + "".join(f"{chr(65 + i):>9}" for i in range(len(services))))
        for g in names:
            row = [statistics.median(s.get(g, 0.0) for s in res) for res in results]
            if any(abs(v) >= 0.0005 for v in row):
                print(f"{g:22}" + "".join(f"{v:9.3f}" for v in row))
        print(f"load at the end: {open('/proc/loadavg').read().strip()}")
    finally:
        for s in services:
            s.stop()


if __name__ == "__main__":
    main()
