#!/usr/bin/env python3
"""The per-run-spawn baseline (not a test): what a Judge0/Piston-style service does per execution,
a plain bwrap (user, pid and net namespaces, /usr read-only, a fresh /tmp) with a fresh python3
running the snippet, no warm pool. Runs `concurrency` of them at a time for `seconds` and prints
  RESULT executions_per_s=.. p50_ms=.. p99_ms=.. cpu_ms_per_execution=.. errors=..
(cpu: every spawned process's user + system time, from this process's waited-for children).
Usage: spawn-baseline.py <concurrency> <seconds> [code]"""
import resource
import subprocess
import sys
import threading
import time

concurrency, seconds = int(sys.argv[1]), float(sys.argv[2])
code = sys.argv[3] if len(sys.argv) > 3 else "print(1+1)"
command = ["bwrap", "--unshare-user", "--unshare-pid", "--unshare-net", "--die-with-parent",
           "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
           "--symlink", "usr/bin", "/bin", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
           "--chdir", "/tmp", "/usr/bin/python3", "-I", "-c", code]
latencies, errors = [], [0]
lock = threading.Lock()
deadline = time.monotonic() + seconds


def worker():
    while time.monotonic() < deadline:
        start = time.monotonic()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        took = time.monotonic() - start
        with lock:
            latencies.append(took)
            if done.returncode != 0 or done.stdout.strip() != b"2" and code == "print(1+1)":
                errors[0] += 1


began = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - began
children = resource.getrusage(resource.RUSAGE_CHILDREN)
latencies.sort()
n = len(latencies)
pick = lambda q: latencies[min(n - 1, int(q * n))] * 1000 if n else float("nan")
print("RESULT executions_per_s=%.1f p50_ms=%.2f p99_ms=%.2f cpu_ms_per_execution=%.2f errors=%d executions=%d"
      % (n / elapsed, pick(0.5), pick(0.99), (children.ru_utime + children.ru_stime) * 1000 / max(n, 1), errors[0], n))
