# sandstream's Python session runner. Runs inside the sandbox as the session's only long-lived
# process: requests arrive as JSON lines on fd 0, answers leave as JSON lines on fd 3, and user code
# writes to fd 1 and fd 2 directly. User code shares this process, so it can tamper with all of it;
# that can only ever spoil its own session, which is why nothing here is trusted by the service.
import ast, base64, json, os, signal, stat, sys, threading, traceback, resource, queue, io

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
            traceback.print_exc()
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


def files(message):
    op = message["op"]
    answer = {"id": message["id"], "ok": True}
    try:
        directory = os.open(DATA, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if op == "put":
                name = safe_name(message["name"])
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=directory)
                with os.fdopen(fd, "wb") as out:
                    out.write(base64.b64decode(message["content"]))
                answer["file"] = file_info(name, os.stat(name, dir_fd=directory, follow_symlinks=False))
            elif op == "get":
                name = safe_name(message["name"])
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
                with os.fdopen(fd, "rb") as source:
                    st = os.fstat(source.fileno())
                    if not stat.S_ISREG(st.st_mode):
                        raise IsADirectoryError("not a regular file")
                    if st.st_size > message["maxBytes"]:
                        raise ValueError("file too large to download")
                    answer["content"] = base64.b64encode(source.read(message["maxBytes"] + 1)).decode()
                    answer["file"] = file_info(name, st)
            elif op == "list":
                entries = []
                for name in sorted(os.listdir(directory)):
                    st = os.stat(name, dir_fd=directory, follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode):
                        entries.append(file_info(name, st))
                answer["files"] = entries
            elif op == "delete":
                os.unlink(safe_name(message["name"]), dir_fd=directory)
        finally:
            os.close(directory)
    except FileNotFoundError:
        answer.update(ok=False, error="NotFound")
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
