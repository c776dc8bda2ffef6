# sandstream's Python session runner. Runs inside the sandbox as the session's only long-lived
# process: requests arrive as JSON lines on fd 0, answers leave as JSON lines on fd 3, and user code
# writes to fd 1 and fd 2 directly. User code shares this process, so it can tamper with all of it;
# that can only ever spoil its own session, which is why nothing here is trusted by the service.
# base64 and traceback are imported where they are used (files, failures): a sandbox's cold start
# waits for every import here (docs/benchmarks.md).
import ast, json, os, signal, stat, sys, threading, resource, queue, io

DATA = "/mnt/data"
requests = os.fdopen(os.dup(0), "rb")
devnull = os.open("/dev/null", os.O_RDONLY)
os.dup2(devnull, 0)
control = os.fdopen(3, "wb", buffering=0)
control_lock = threading.Lock()
work = queue.Queue()
running = threading.Event()
sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), encoding="utf-8", errors="replace", write_through=True)
sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), encoding="utf-8", errors="backslashreplace", write_through=True)
user_globals = {"__name__": "__main__", "__builtins__": __builtins__}


def send(message):
    line = json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"
    with control_lock:
        control.write(line)


def reader():
    # Interrupts are handled here, at once, even while user code runs on the main thread.
    try:
        for line in requests:
            message = json.loads(line)
            if message.get("op") == "interrupt":
                if running.is_set():
                    os.kill(os.getpid(), signal.SIGINT)
            else:
                work.put(message)
    finally:
        os._exit(0)  # the service closed the channel (or broke the protocol): the session ends


def to_json(value):
    if value is None:
        return None
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def run_cell(code):
    tree = ast.parse(code, "<cell>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), user_globals)
    if last is not None:
        return eval(compile(last, "<cell>", "eval"), user_globals)
    return None


def cpu_used():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def execute(message):
    answer = {"id": message["id"], "status": "Succeeded", "result": None}
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    budget = int(cpu_used()) + int(message["cpuSeconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (budget if hard == resource.RLIM_INFINITY else min(budget, hard), hard))
    running.set()
    try:
        answer["result"] = to_json(run_cell(message["code"]))
    except KeyboardInterrupt:
        answer.update(status="Failed", error={"type": "KeyboardInterrupt", "message": "interrupted"})
    except BaseException as e:  # SystemExit included: the session survives a sys.exit()
        answer.update(status="Failed", error={"type": type(e).__name__, "message": str(e)[:4096]})
        try:
            import traceback
            traceback.print_exc()
        except BaseException:
            try:
                sys.__excepthook__(type(e), e, e.__traceback__)  # traceback not importable (no fd left?)
            except BaseException:
                pass
    finally:
        running.clear()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    marker = message["marker"].encode()
    os.write(1, marker)
    os.write(2, marker)
    send(answer)


def safe_name(name):
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        raise ValueError("invalid file name")
    return name


def file_info(name, st):
    return {"name": name, "size": st.st_size, "mtime": st.st_mtime}


def open_regular(name, flags, directory):
    # O_NONBLOCK: opening a FIFO never waits for its other end; O_NOFOLLOW: never a symlink.
    fd = os.open(name, flags | os.O_NONBLOCK | os.O_NOFOLLOW, 0o644, dir_fd=directory)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularError()
    os.set_blocking(fd, True)
    return fd, st


class NotRegularError(Exception):
    pass


def listing(directory, message):
    # Capped in entries and bytes, so that a session holding a million files answers a bounded line.
    entries, size, truncated = [], 0, False
    for name in sorted(os.listdir(directory)):
        st = os.stat(name, dir_fd=directory, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            continue
        entry = file_info(name, st)
        size += len(json.dumps(entry)) + 1
        if len(entries) >= message["maxEntries"] or size > message["maxBytes"]:
            truncated = True
            break
        entries.append(entry)
    return entries, truncated


def files(message):
    import base64
    op = message["op"]
    answer = {"id": message["id"], "ok": True}
    try:
        directory = os.open(DATA, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if op == "put":
                name = safe_name(message["name"])
                fd, _ = open_regular(name, os.O_WRONLY | os.O_CREAT, directory)
                with os.fdopen(fd, "wb") as out:
                    out.truncate(0)
                    out.write(base64.b64decode(message["content"]))
                    out.flush()
                    answer["file"] = file_info(name, os.fstat(out.fileno()))
            elif op == "get":
                name = safe_name(message["name"])
                fd, st = open_regular(name, os.O_RDONLY, directory)
                with os.fdopen(fd, "rb") as source:
                    if st.st_size > message["maxBytes"]:
                        raise ValueError("file too large to download")
                    answer["content"] = base64.b64encode(source.read(message["maxBytes"] + 1)).decode()
                    answer["file"] = file_info(name, st)
            elif op == "list":
                answer["files"], answer["truncated"] = listing(directory, message)
            elif op == "usage":
                total = 0
                for entry in os.scandir(directory):
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode) and entry.name != message.get("except"):
                        total += st.st_size
                answer["bytes"] = total
            elif op == "delete":
                os.unlink(safe_name(message["name"]), dir_fd=directory)
        finally:
            os.close(directory)
    except FileNotFoundError:
        answer.update(ok=False, error="NotFound")
    except (NotRegularError, IsADirectoryError):
        answer.update(ok=False, error="NotRegular", message="not a regular file")
    except OSError as e:
        answer.update(ok=False, error="OSError", message=os.strerror(e.errno) if e.errno else str(e))
    except (ValueError, TypeError, KeyError) as e:
        answer.update(ok=False, error="Invalid", message=str(e))
    send(answer)


threading.Thread(target=reader, daemon=True).start()
signal.signal(signal.SIGINT, signal.default_int_handler)
send({"ready": True, "runtime": "python " + sys.version.split()[0]})
while True:
    message = work.get()
    try:
        (execute if message["op"] == "exec" else files)(message)
    except KeyboardInterrupt:
        send({"id": message.get("id"), "status": "Failed", "error": {"type": "KeyboardInterrupt", "message": "interrupted"}})
