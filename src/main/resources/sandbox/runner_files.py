# The file operations of every Python-hosted runner (runner.py, script_runner.py): the service
# compiles each runner together with this file into the one program the sandbox runs
# (RuntimeDirectory), so there is one implementation and nothing more for a sandbox to load.
# Never a symlink, only regular files, never outside /mnt/data. Answers go through send(), on the
# control channel each runner opens (its globals control and control_lock).
import _json, binascii, os, stat

DATA = "/mnt/data"


# JSON by json's own C scanner and encoder (_json), which json.loads and json.dumps use too: json's
# Python layer imports re, enum and collections, which were the larger part of a runner's own start
# once the interpreter runs without site (docs/benchmarks.md). Same results as json's for the lines
# of the protocol; user code that imports json gets the whole module as usual.
class JsonDecoding:
    # What _json.make_scanner reads from json.JSONDecoder, at json.loads's defaults.
    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__


json_scan = _json.make_scanner(JsonDecoding())


def json_loads(line):
    """json.loads of one UTF-8 line; ValueError (or StopIteration) when it is not one JSON value."""
    text = line.decode("utf-8").strip()
    value, end = json_scan(text, 0)
    if end != len(text):
        raise ValueError("extra data after the JSON value")
    return value


def json_unserializable(value):
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def json_dumps(value, default=json_unserializable, allow_nan=True, separators=(", ", ": ")):
    """json.dumps(value, default=, allow_nan=, separators=), ASCII and with the circular check as json.dumps has them."""
    encode = _json.make_encoder({}, default, _json.encode_basestring_ascii, None, separators[1], separators[0],
                                False, False, allow_nan)
    return "".join(encode(value, 0))


def send(message):
    line = json_dumps(message, separators=(",", ":"), default=str).encode() + b"\n"
    with control_lock:
        control.write(line)


def safe_name(name):
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        raise ValueError("invalid file name")
    return name


def file_info(name, st):
    return {"name": name, "size": st.st_size, "mtime": st.st_mtime}


class NotRegularError(Exception):
    pass


def open_regular(name, flags, directory):
    # O_NONBLOCK: opening a FIFO never waits for its other end; O_NOFOLLOW: never a symlink.
    fd = os.open(name, flags | os.O_NONBLOCK | os.O_NOFOLLOW, 0o644, dir_fd=directory)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularError()
    os.set_blocking(fd, True)
    return fd, st


def regular_entries(directory):
    for name in sorted(os.listdir(directory)):
        st = os.stat(name, dir_fd=directory, follow_symlinks=False)
        if stat.S_ISREG(st.st_mode):
            yield name, st


def file_op(op, message, directory, answer):
    if op == "put":
        name = safe_name(message["name"])
        fd, _ = open_regular(name, os.O_WRONLY | os.O_CREAT, directory)
        with os.fdopen(fd, "wb") as out:
            out.truncate(0)
            out.write(binascii.a2b_base64(message["content"]))
            out.flush()
            answer["file"] = file_info(name, os.fstat(out.fileno()))
    elif op == "get":
        name = safe_name(message["name"])
        fd, st = open_regular(name, os.O_RDONLY, directory)
        with os.fdopen(fd, "rb") as source:
            if st.st_size > message["maxBytes"]:
                raise ValueError("file too large to download")
            answer["content"] = binascii.b2a_base64(source.read(message["maxBytes"] + 1), newline=False).decode()
            answer["file"] = file_info(name, st)
    elif op == "list":
        # Capped in entries and bytes, so that a session holding a million files answers a bounded line.
        entries, size, answer["truncated"] = [], 0, False
        for name, st in regular_entries(directory):
            entry = file_info(name, st)
            size += len(json_dumps(entry)) + 1
            if len(entries) >= message["maxEntries"] or size > message["maxBytes"]:
                answer["truncated"] = True
                break
            entries.append(entry)
        answer["files"] = entries
    elif op == "usage":
        answer["bytes"] = sum(st.st_size for name, st in regular_entries(directory) if name != message.get("except"))
    elif op == "delete":
        os.unlink(safe_name(message["name"]), dir_fd=directory)


def files(message):
    answer = {"id": message["id"], "ok": True}
    try:
        directory = os.open(DATA, os.O_RDONLY | os.O_DIRECTORY)
        try:
            file_op(message["op"], message, directory, answer)
        finally:
            os.close(directory)
    except FileNotFoundError:
        answer.update(ok=False, error="NotFound")
    except (NotRegularError, IsADirectoryError):
        answer.update(ok=False, error="NotRegular", message="not a regular file")
    except OSError as e:
        answer.update(ok=False, error="OSError", message=os.strerror(e.errno) if e.errno else str(e))
    except (ValueError, TypeError, KeyError) as e:  # binascii.Error is a ValueError
        answer.update(ok=False, error="Invalid", message=str(e))
    send(answer)  # noqa: F821 -- the runner's
