"""Model of the journal writer's statements in Python's sqlite3: WAL frames per execution, by b-tree.

Usage: python3 src/bench/journal-pages-model.py [base|partial|noidx|narrow|narrow_partial]
(RESULT_BY_SEQ=1: results keyed by the journal's seq; PREFILL, BACKLOG, ROUNDS, PER_COMMIT, APPENDS,
PAGE as environment variables). Writes /tmp/sqlite-sim.db. See docs/benchmarks.md, "The writer's
I/O per execution"."""
import sqlite3, uuid, os, sys, random, collections, struct

VARIANT = sys.argv[1] if len(sys.argv) > 1 else "base"
PREFILL = int(os.environ.get("PREFILL", "60000"))
BACKLOG = int(os.environ.get("BACKLOG", "30000"))
ROUNDS = int(os.environ.get("ROUNDS", "300"))
PER_COMMIT = int(os.environ.get("PER_COMMIT", "60"))   # executions finished (and started) per commit
APPEND_PER_COMMIT = float(os.environ.get("APPENDS", "1.4"))  # events appended per execution
PAGE = int(os.environ.get("PAGE", "4096"))
random.seed(1)
path = "/tmp/sqlite-sim.db"
for s in ("", "-wal", "-shm"):
    if os.path.exists(path + s): os.remove(path + s)
con = sqlite3.connect(path, isolation_level=None)
con.execute(f"PRAGMA page_size={PAGE}")
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=OFF"); con.execute("PRAGMA temp_store=MEMORY")
con.execute("PRAGMA cache_size=-2000")

def event(i):
    return ('{"specversion":"1.0","id":"1733456789-12345-987654321-%d","source":"/bench/tenant-%d","type":"io.sandstream.code.execute",'
            '"subject":"code-execution/bench","data":{"code":"1+1","sessionId":"bench-%d"}}' % (i, i % 8, i % 16)).encode()
def document(eid):
    return ('{"executionId":"%s","subject":"code-execution/bench","status":"SUCCEEDED","stdout":"2\\n","stderr":"","exitCode":0,'
            '"timings":{"acceptedAt":"2026-12-06T04:00:00.123Z","startedAt":"2026-12-06T04:00:00.456Z","completedAt":"2026-12-06T04:00:00.789Z",'
            '"queuedMs":333,"runMs":12},"attempt":1,"sessionId":"bench-3","language":"python","pool":"python","source":"/bench/tenant-1","eventId":"x-1"}' % eid)

S = {}
S["base"] = dict(schema=["""CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL UNIQUE,
  event_id TEXT, source TEXT, type TEXT, subject TEXT, session_id TEXT, priority TEXT, state TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0, accepted_at INTEGER NOT NULL, event BLOB, rejection TEXT, tenant TEXT NOT NULL DEFAULT '')""",
  "CREATE INDEX journal_state_seq ON journal(state, seq)",
  """CREATE TABLE results (seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL UNIQUE, subject TEXT, status TEXT NOT NULL,
  completed_at TEXT, document TEXT NOT NULL)"""])
import copy
def variant(name, drop=(), add=()):
    v = copy.deepcopy(S["base"]); v["schema"] = [x for x in v["schema"] if not any(d in x for d in drop)] + list(add); S[name] = v
variant("partial", drop=["journal_state_seq"], add=["CREATE INDEX journal_unfinished ON journal(seq) WHERE state IN ('QUEUED','RUNNING','REJECTED')"])
variant("noidx", drop=["journal_state_seq"])
variant("narrow", drop=["journal_state_seq"], add=["CREATE TABLE journal_run (seq INTEGER PRIMARY KEY, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0)"])
variant("narrow_partial", drop=["journal_state_seq"], add=["CREATE INDEX journal_unfinished ON journal(seq) WHERE state IN ('QUEUED','RUNNING','REJECTED')",
   "CREATE TABLE journal_run (seq INTEGER PRIMARY KEY, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0)"])
for st in S[VARIANT]["schema"]:
    con.execute(st)
NARROW = VARIANT.startswith("narrow")
RESULT_BY_SEQ = os.environ.get("RESULT_BY_SEQ") == "1"
if RESULT_BY_SEQ:
    con.execute("DROP TABLE results")
    con.execute("CREATE TABLE results (seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, journal_seq INTEGER UNIQUE, subject TEXT, status TEXT NOT NULL, completed_at TEXT, document TEXT NOT NULL)")

INS = """INSERT INTO journal(execution_id, event_id, source, type, subject, session_id, priority, state, accepted_at, event, rejection, tenant)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(execution_id) DO NOTHING"""
ids = []
def append(n, state="QUEUED"):
    for _ in range(n):
        i = len(ids); eid = str(uuid.UUID(int=random.getrandbits(128)))
        ids.append(eid)
        cur = con.execute(INS, (eid, "e-%d" % i, "/bench/tenant-%d" % (i % 8), "io.sandstream.code.execute", "code-execution/bench",
                                "bench-%d" % (i % 16), "normal", "QUEUED" if NARROW else state, 1733456789000 + i, event(i), None, ""))
        if NARROW:
            con.execute("INSERT INTO journal_run(seq, state) VALUES (?, ?)", (cur.lastrowid, state))
def claim(i):
    if NARROW:
        con.execute("UPDATE journal_run SET state='RUNNING', attempt=attempt+1 WHERE seq=(SELECT seq FROM journal WHERE execution_id=?) AND state='QUEUED'", (ids[i],))
    else:
        con.execute("UPDATE journal SET state='RUNNING', attempt=attempt+1 WHERE execution_id=? AND state IN ('QUEUED') RETURNING tenant", (ids[i],)).fetchall()
def finish(i):
    eid = ids[i]
    if RESULT_BY_SEQ:
        con.execute("INSERT INTO results(execution_id, journal_seq, subject, status, completed_at, document) VALUES (?,(SELECT seq FROM journal WHERE execution_id=?),?,?,?,?) ON CONFLICT DO NOTHING",
                    (eid, eid, "code-execution/bench", "SUCCEEDED", "2026-12-06T04:00:00.789Z", document(eid)))
    else:
        con.execute("INSERT INTO results(execution_id, subject, status, completed_at, document) VALUES (?,?,?,?,?) ON CONFLICT(execution_id) DO NOTHING",
                    (eid, "code-execution/bench", "SUCCEEDED", "2026-12-06T04:00:00.789Z", document(eid)))
    if NARROW:
        con.execute("UPDATE journal_run SET state='FINISHED' WHERE seq=(SELECT seq FROM journal WHERE execution_id=?) AND state IN ('QUEUED','RUNNING')", (eid,))
    else:
        con.execute("UPDATE journal SET state='FINISHED' WHERE execution_id=? AND state IN ('QUEUED','RUNNING') RETURNING tenant", (eid,)).fetchall()

# prefill: finished history and a queued backlog
con.execute("BEGIN")
append(PREFILL, "FINISHED")
for i in range(PREFILL):
    finish(i) if not NARROW else None
con.execute("COMMIT")
if NARROW:  # results for the history
    con.execute("BEGIN")
    for i in range(PREFILL):
        finish(i)
    con.execute("COMMIT")
con.execute("BEGIN"); append(BACKLOG); con.execute("COMMIT")
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.execute("PRAGMA wal_autocheckpoint=0")
nextrun = PREFILL; inflight = 16; debt = 0.0
for r in range(ROUNDS):
    con.execute("BEGIN")
    for k in range(PER_COMMIT):
        claim(nextrun + k + inflight)
        finish(nextrun + k)
    debt += APPEND_PER_COMMIT * PER_COMMIT
    while debt >= 50:
        append(50); debt -= 50
    nextrun += PER_COMMIT
    con.execute("COMMIT")
execs = ROUNDS * PER_COMMIT
owner = {p: n for n, p in con.execute("SELECT name, pageno FROM dbstat")}
frames = collections.Counter()
with open(path + "-wal", "rb") as f:
    f.read(32)
    while True:
        h = f.read(24)
        if len(h) < 24: break
        frames[owner.get(struct.unpack(">I", h[:4])[0], "?")] += 1
        f.seek(PAGE, 1)
tot = sum(frames.values())
print("%-16s frames/exec %.2f  " % (VARIANT + ("+rseq" if RESULT_BY_SEQ else ""), tot / execs) + "  ".join("%s %.2f" % (k, v / execs) for k, v in frames.most_common()))
