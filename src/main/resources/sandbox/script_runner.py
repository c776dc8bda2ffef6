# sandstream's script runner: the resident process of a warm sandbox for languages that run a file
# rather than keep state in an interpreter (bash, C, C++, Go, Ruby, Java, TypeScript). Same line
# protocol as runner.py: requests as JSON lines on fd 0, answers as JSON lines on fd 3. Per
# execution it writes the code to a file under /tmp, optionally compiles it, then runs it as a
# child in a process group of its own, with fd 1 and fd 2 passed straight through (live output).
# The compile step and the run share the execution's CPU budget (RLIMIT_CPU on each child) and
# sit in the sandbox's memory cgroup, so both count against the execution's limits.
# The service compiles it, after runner_files.py (the file operations, DATA), into the bytecode the
# sandbox runs. Usage: script_runner.pyc LANGUAGE MEMORY_MIB
# A sandbox's cold start waits for every import here (docs/benchmarks.md): children are started
# with os.fork and os.execvpe rather than subprocess, and _thread, _queue and _signal stand in for
# threading, queue and signal (together ≈ 20 ms of CPU per start); shutil is imported by the second
# execution, the first with a build directory to clear.
import _queue, _signal, _thread, os, sys, resource

WORK = "/tmp/sandstream-build"
LANGUAGE = sys.argv[1]
MEMORY_MIB = int(sys.argv[2])
requests = os.fdopen(os.dup(0), "rb")
devnull = os.open("/dev/null", os.O_RDONLY)
os.dup2(devnull, 0)
control = os.fdopen(3, "wb", buffering=0)
os.set_inheritable(3, False)  # no child gets the control channel
control_lock = _thread.allocate_lock()
work = _queue.SimpleQueue()
child_lock = _thread.allocate_lock()
child = None  # the pid of the running child, while it is not reaped (its process group stays ours)
interrupted = False
MAX_FD = os.sysconf("SC_OPEN_MAX")

# Toolchain caches and temporary files in the session's writable space (the root is read-only).
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": DATA, "LANG": "C.UTF-8", "TMPDIR": "/tmp",
    "GOCACHE": "/tmp/.cache/go-build", "GOPATH": "/tmp/go", "GOPROXY": "off", "GOFLAGS": "-mod=mod",
    "GO111MODULE": "off", "GOTELEMETRY": "off", "CGO_ENABLED": "0",
}
# The JVM cannot see the sandbox's cgroup (no /sys inside): size it from the limit itself.
JAVA = ["java", "-XX:MaxRAM=%dm" % MEMORY_MIB, "-XX:MaxRAMPercentage=60", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Xss1m", "-Djava.io.tmpdir=/tmp"]
NODE_HEAP = "--max-old-space-size=%d" % max(16, MEMORY_MIB * 3 // 4)

# language -> (source file, compile command or None, run command); paths relative to WORK.
LANGUAGES = {
    "bash": ("main.sh", None, ["bash", "{work}/main.sh"]),
    "ruby": ("main.rb", None, ["ruby", "{work}/main.rb"]),
    "c": ("main.c", ["gcc", "-O1", "-pipe", "-o", "{work}/main", "{work}/main.c", "-lm"], ["{work}/main"]),
    "cpp": ("main.cpp", ["g++", "-O1", "-pipe", "-o", "{work}/main", "{work}/main.cpp"], ["{work}/main"]),
    "go": ("main.go", ["go", "build", "-o", "{work}/main", "{work}/main.go"], ["{work}/main"]),
    # The single-file source launcher: compiles in memory and runs in one JVM.
    "java": ("Main.java", None, JAVA + ["{work}/Main.java"]),
    "typescript": ("main.ts", ["tsc", "--target", "es2022", "--module", "commonjs", "--strict", "false",
                               "--skipLibCheck", "--outDir", "{work}/out", "{work}/node.d.ts", "{work}/main.ts"],
                   ["node", NODE_HEAP, "{work}/out/main.js"]),
}
SOURCE, COMPILE, RUN = LANGUAGES[LANGUAGE]
# Debian ships no @types/node: Node's modules and globals are typed `any` rather than refused.
NODE_TYPES = ("declare module '*';\ndeclare var require: any, module: any, exports: any, process: any,"
              " Buffer: any, __dirname: string, __filename: string;\n")


def reader():
    global interrupted
    try:
        for line in requests:
            message = json_loads(line)
            if message.get("op") == "interrupt":
                interrupted = True
                kill_child()
            else:
                work.put(message)
    finally:
        kill_child()
        os._exit(0)  # the service closed the channel (or broke the protocol): the session ends


def kill_child():
    with child_lock:
        if child is not None:
            try:
                os.killpg(child, _signal.SIGKILL)
            except OSError:
                pass


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def spawn(argv, seconds, stdout):
    """Starts argv as a child in a process group of its own, its CPU limited to seconds; its pid.
    What subprocess.Popen(preexec_fn=..., close_fds=True) did, with exec errors raised here."""
    errors, report = os.pipe()  # both close on exec: the child reports only a failure before its exec
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)  # a group of its own: an interrupt kills the program and what it started
            _, hard = resource.getrlimit(resource.RLIMIT_CPU)
            # SIGXCPU at the budget, SIGKILL a second later for runtimes that catch SIGXCPU (Go does).
            cap = seconds + 1 if hard == resource.RLIM_INFINITY else min(seconds + 1, hard)
            resource.setrlimit(resource.RLIMIT_CPU, (min(seconds, cap), cap))
            # Python ignores these two; a program expects them at their defaults (SIGINT stays
            # ignored, as the runner has it: interrupts come through the protocol).
            for number in (_signal.SIGPIPE, _signal.SIGXFSZ):
                _signal.signal(number, _signal.SIG_DFL)
            os.dup2(devnull, 0)
            if stdout != 1:
                os.dup2(stdout, 1)
            os.closerange(3, report)
            os.closerange(report + 1, MAX_FD)
            os.chdir(DATA)
            os.execvpe(argv[0], argv, ENV)
        except OSError as e:
            os.write(report, b"%d" % (e.errno or 0))
        finally:
            os._exit(127)
    os.close(report)
    try:
        failure = os.read(errors, 32)
    finally:
        os.close(errors)
    if failure:
        os.waitpid(pid, 0)
        number = int(failure)
        raise OSError(number, os.strerror(number), argv[0])
    return pid


def step(argv, budget, stdout):
    """Runs one child to its end within the remaining CPU budget (s); its exit status."""
    global child
    seconds = max(1, int(budget + 0.999))
    with child_lock:
        if interrupted:
            return None
        child = spawn(argv, seconds, stdout)
    try:
        # Waited for without reaping it: until it is reaped its pid, and so its process group,
        # cannot go to another process, so kill_child never hits one that is not ours.
        os.waitid(os.P_PID, child, os.WEXITED | os.WNOWAIT)
    finally:
        kill_child()  # whatever the program left running in its group ends with it
        with child_lock:
            _, status = os.waitpid(child, 0)
            child = None
    return os.waitstatus_to_exitcode(status)


def describe(code):
    if code < 0:
        import signal  # the names, only for a child a signal ended
        try:
            return "killed by " + signal.Signals(-code).name
        except ValueError:
            return "killed by signal %d" % -code
    return "exit status %d" % code


def clear_work():
    if os.path.lexists(WORK):
        import shutil  # from the second execution on: not on the cold start's path
        shutil.rmtree(WORK, ignore_errors=True)


def execute(message):
    global interrupted
    answer = {"id": message["id"], "status": "Succeeded", "result": None}
    interrupted = False
    clear_work()
    start = children_cpu()
    budget = float(message["cpuSeconds"])
    try:
        os.makedirs(WORK, mode=0o700)
        with open(os.path.join(WORK, SOURCE), "w", encoding="utf-8", errors="surrogateescape") as source:
            source.write(message["code"])
        if LANGUAGE == "typescript":
            with open(os.path.join(WORK, "node.d.ts"), "w") as types:
                types.write(NODE_TYPES)
        for phase, argv in (("compile", COMPILE), ("run", RUN)):
            if argv is None:
                continue
            # A compiler's diagnostics all go to stderr (tsc writes them to stdout).
            code = step([a.format(work=WORK) for a in argv], budget - (children_cpu() - start),
                        2 if phase == "compile" else 1)
            if interrupted or code is None:
                answer.update(status="Failed", error={"type": "KeyboardInterrupt", "message": "interrupted"})
                break
            if code in (-_signal.SIGXCPU, -_signal.SIGKILL) and children_cpu() - start >= budget - 0.05:
                answer.update(status="Failed", error={"type": "CpuLimitExceeded",
                                                      "message": "the CPU limit was reached during " + phase})
                break
            if code != 0:
                kind = "CompileError" if phase == "compile" else "NonZeroExit"
                answer.update(status="Failed", error={"type": kind, "message": phase + " failed: " + describe(code)})
                break
    except OSError as e:
        answer.update(status="Failed", error={"type": "OSError", "message": str(e)[:4096]})
    marker = message["marker"].encode()
    os.write(1, marker)
    os.write(2, marker)
    send(answer)


_thread.start_new_thread(reader, ())
_signal.signal(_signal.SIGINT, _signal.SIG_IGN)
send({"ready": True, "runtime": LANGUAGE})
while True:
    message = work.get()
    (execute if message["op"] == "exec" else files)(message)
