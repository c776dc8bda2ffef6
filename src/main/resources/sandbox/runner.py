# sandstream's Python session runner. Runs inside the sandbox as the session's only long-lived
# process: requests arrive as JSON lines on fd 0, answers leave as JSON lines on fd 3, and user code
# writes to fd 1 and fd 2 directly. User code shares this process, so it can tamper with all of it;
# that can only ever spoil its own session, which is why nothing here is trusted by the service.
# The service compiles it, after runner_files.py (the file operations), into the bytecode the
# sandbox runs. A sandbox's cold start waits for every import here (docs/benchmarks.md), so this
# imports the modules beneath the usual ones where those cost startup time: _ast (not ast), binascii
# (not base64, which imports re), _thread and _queue (not threading and queue), _signal (not signal),
# json's C parts (runner_files.py: not json, which imports re, enum and collections); traceback is
# imported where it is used (failures).
import _ast, _queue, _signal, _thread, binascii, builtins, os, sys, resource, io, site

# The interpreter runs with -S (docs/sandboxes.md): the .pth files in the host's site directories
# run no code in the sandbox (Debian's and whatever else the host installed there; one of this
# machine's tries to import certifi at every start). The site directories go on sys.path here, in
# the order site puts them, without their .pth files; exit(), quit(), help() and friends as site
# defines them. Under -S importing site runs nothing (the module is frozen: no file read).
sys.path.extend(directory for directory in site.getsitepackages() if os.path.isdir(directory))
site.setquit()
site.setcopyright()
site.sethelper()

requests = os.fdopen(os.dup(0), "rb")
devnull = os.open("/dev/null", os.O_RDONLY)
os.dup2(devnull, 0)
control = os.fdopen(3, "wb", buffering=0)
control_lock = _thread.allocate_lock()
work = _queue.SimpleQueue()  # queue.SimpleQueue
running = False  # while user code runs on the main thread
sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), encoding="utf-8", errors="replace", write_through=True)
sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), encoding="utf-8", errors="backslashreplace", write_through=True)
user_globals = {"__name__": "__main__", "__builtins__": __builtins__}


def reader():
    # Interrupts are handled here, at once, even while user code runs on the main thread.
    try:
        for line in requests:
            message = json_loads(line)
            if message.get("op") == "interrupt":
                if running:
                    os.kill(os.getpid(), _signal.SIGINT)
            else:
                work.put(message)
    finally:
        os._exit(0)  # the service closed the channel (or broke the protocol): the session ends


def to_json(value):
    if value is None:
        return None
    try:
        json_dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


# ---- rich results (the IPython display protocol) --------------------------------------------------
# Outputs of one execution: display() calls, figures and a rich last expression, each a MIME type
# and its data (base64 for images), counted against the execution's output cap (what the code wrote
# to stdout/stderr is counted by the service, which applies the cap to both together).

SCALARS = (type(None), bool, int, float, str)
REPRS = (("image/png", "_repr_png_"), ("image/jpeg", "_repr_jpeg_"), ("image/svg+xml", "_repr_svg_"),
         ("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"), ("text/latex", "_repr_latex_"),
         ("application/json", "_repr_json_"))
PRETTY_WIDTH = 79


class OutputLimitExceeded(KeyboardInterrupt):
    # A KeyboardInterrupt, like the interrupt the service sends when stdout passes the cap:
    # user code's "except Exception" does not swallow it.
    pass


class Outputs:
    def __init__(self, cap):
        self.items, self.size, self.cap, self.truncated = [], 0, cap, False

    def add(self, mime, data):
        size = len(data) if isinstance(data, str) else len(json_dumps(data, default=str))
        if self.truncated or self.size + size > self.cap:
            self.truncated = True
            return False
        self.size += size
        self.items.append({"type": mime, "data": data})
        return True


outputs = Outputs(0)


def pretty(value):
    # The text/plain form a Jupyter kernel shows: repr, and a container too long for one line
    # one element per line (IPython's pretty printer does the same; pprint is its stdlib twin).
    text = repr(value)
    if len(text) > PRETTY_WIDTH and len(text) <= outputs.cap and isinstance(value, (list, tuple, dict, set, frozenset)):
        import pprint
        try:
            text = pprint.pformat(value, width=PRETTY_WIDTH, sort_dicts=False)
        except Exception:
            pass
    return text


def pyplot():
    return sys.modules.get("matplotlib.pyplot")


def as_figure(value):
    module = sys.modules.get("matplotlib.figure")
    if module is not None and isinstance(value, module.Figure):
        return value
    return None


def figure_png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return binascii.b2a_base64(buffer.getvalue(), newline=False).decode()


def bundle(value):
    # The MIME bundle of a value, richest first, text/plain last.
    data = {}
    figure = as_figure(value)
    if figure is not None:
        data["image/png"] = figure_png(figure)
    else:
        kind = type(value)
        if kind.__name__ == "Series" and kind.__module__.startswith("pandas"):
            try:
                data["text/html"] = value.to_frame()._repr_html_()
            except Exception:
                pass
        for mime, name in REPRS:
            if mime in data:
                continue
            method = getattr(kind, name, None)
            if not callable(method):
                continue
            try:
                content = method(value)
            except Exception:
                continue
            if isinstance(content, tuple) and len(content) == 2:
                content = content[0]  # (data, metadata)
            if content is None:
                continue
            if mime.startswith("image/") and mime != "image/svg+xml":
                if isinstance(content, (bytes, bytearray)):
                    content = binascii.b2a_base64(content, newline=False).decode()
                elif not isinstance(content, str):
                    continue
            elif mime == "application/json":
                try:
                    json_dumps(content, allow_nan=False)
                except (TypeError, ValueError):
                    continue
            elif not isinstance(content, str):
                continue
            data[mime] = content
    data["text/plain"] = pretty(value)
    return data


def emit(value):
    for mime, data in bundle(value).items():
        if not outputs.add(mime, data):
            raise OutputLimitExceeded("the output limit was reached")


def display(*values, **_):
    """Shows each value as a Jupyter notebook would (its richest representations); like IPython's display()."""
    for value in values:
        emit(value)
        figure = as_figure(value)
        if figure is not None and pyplot() is not None:
            pyplot().close(figure)


def show(*_, **__):
    """pyplot.show() in a notebook: every open figure becomes an output, then is closed."""
    flush_figures()


def flush_figures(keep_going=False):
    plt = pyplot()
    if plt is None:
        return
    try:
        for number in plt.get_fignums():
            figure = plt.figure(number)
            try:
                if not outputs.truncated and not outputs.add("image/png", figure_png(figure)):
                    if not keep_going:
                        raise OutputLimitExceeded("the output limit was reached")
            finally:
                plt.close(figure)
    finally:
        if keep_going:
            plt.close("all")


def patch_pyplot():
    plt = pyplot()
    if plt is not None and plt.show is not show:
        plt.show = show


class PyplotHook:
    # Replaces pyplot.show as soon as pyplot is imported, so plt.show() in the importing cell works too.
    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.pyplot":
            return None
        import importlib.machinery
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.show = show
        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, PyplotHook())
# Debian's matplotlib reads /etc/matplotlibrc, which the sandbox does not bind: the same file ships
# in its data directory under /usr.
if "MATPLOTLIBRC" not in os.environ and not os.path.exists("/etc/matplotlibrc") \
        and os.path.exists("/usr/share/matplotlib/mpl-data/matplotlibrc"):
    os.environ["MATPLOTLIBRC"] = "/usr/share/matplotlib/mpl-data/matplotlibrc"
builtins.display = display


def result_of(value):
    """The value as the result document holds it, and, for a non-scalar, its text form (Jupyter's text/plain)."""
    if isinstance(value, SCALARS):
        return to_json(value), None
    figure = as_figure(value)
    rich = figure is not None or any(callable(getattr(type(value), name, None)) for _, name in REPRS) \
        or type(value).__module__.startswith("pandas")
    if rich:
        data = bundle(value)
        if figure is not None and pyplot() is not None:
            pyplot().close(figure)
        text = data["text/plain"]
        flush_figures(keep_going=True)  # what is still open comes before the result, as in a notebook
        for mime, content in data.items():
            outputs.add(mime, content)
    else:
        text = pretty(value)
    if len(text) > outputs.cap:
        text = text[:outputs.cap]
        outputs.truncated = True
    return to_json(value), text


def run_cell(code):
    tree = compile(code, "<cell>", "exec", _ast.PyCF_ONLY_AST)  # ast.parse
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = _ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), user_globals)
    if last is not None:
        return eval(compile(last, "<cell>", "eval"), user_globals)
    return None


def cpu_used():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def execute(message):
    global outputs, running
    answer = {"id": message["id"], "status": "Succeeded", "result": None}
    outputs = Outputs(int(message.get("outputBytes", 1 << 20)))
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    budget = int(cpu_used()) + int(message["cpuSeconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (budget if hard == resource.RLIM_INFINITY else min(budget, hard), hard))
    running = True
    try:
        patch_pyplot()
        value = run_cell(message["code"])
        answer["result"], text = result_of(value)
        if text is not None:
            answer["text"] = text
        flush_figures(keep_going=True)
    except KeyboardInterrupt as e:
        answer.update(status="Failed", error={"type": "OutputLimitExceeded" if isinstance(e, OutputLimitExceeded)
                                              else "KeyboardInterrupt", "message": "interrupted"})
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
        running = False
    try:
        flush_figures(keep_going=True)  # a failed cell still shows its figures, as a notebook does
    except BaseException:
        pass
    if outputs.items:
        answer["outputs"] = outputs.items
    if outputs.truncated:
        answer["outputsTruncated"] = True
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    marker = message["marker"].encode()
    os.write(1, marker)
    os.write(2, marker)
    send(answer)


_thread.start_new_thread(reader, ())
_signal.signal(_signal.SIGINT, _signal.default_int_handler)
send({"ready": True, "runtime": "python " + sys.version.split()[0]})
while True:
    message = work.get()
    try:
        (execute if message["op"] == "exec" else files)(message)
    except KeyboardInterrupt:
        send({"id": message.get("id"), "status": "Failed", "error": {"type": "KeyboardInterrupt", "message": "interrupted"}})
