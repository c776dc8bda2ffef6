"""The journal writer's page writes by b-tree, from an strace of its thread.

Record: strace -p <journal-writer tid> -e trace=pwrite64,pread64,fdatasync,fsync -s 4 -x -o strace.txt
Usage: python3 src/bench/writer-pages.py strace.txt journal.db <WAL fd> <journal.db fd> <executions>
(the fds from ls -l /proc/<pid>/fd). A WAL frame header is a 24-byte pwrite whose first four bytes
are the page number; dbstat maps page numbers to tables and indexes. See docs/benchmarks.md."""
import re, sys, sqlite3, collections
st, db, walfd, dbfd, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
con = sqlite3.connect(db)
owner = {}
for name, pageno in con.execute("select name, pageno from dbstat"):
    owner[pageno] = name
pat = re.compile(r'^(\w+)\((\d+), "((?:[^"\\]|\\.)*)"\.*, (\d+), (\d+)\)')
def unescape(s):
    out = bytearray(); i = 0
    while i < len(s):
        if s[i] == '\\':
            c = s[i + 1]
            if c == 'x': out.append(int(s[i + 2:i + 4], 16)); i += 4; continue
            out.append({'n': 10, 't': 9, 'r': 13, 'v': 11, 'f': 12, '0': 0}.get(c, ord(c))); i += 2; continue
        out.append(ord(s[i])); i += 1
    return bytes(out)
wal = collections.Counter(); ckpt = collections.Counter(); rd = collections.Counter()
syncs = 0; commits = 0
for line in open(st):
    m = pat.match(line)
    if not m:
        if 'fsync' in line or 'fdatasync' in line: syncs += 1
        continue
    call, fd, buf, size, off = m.group(1), m.group(2), m.group(3), int(m.group(4)), int(m.group(5))
    if call == 'pwrite64' and fd == walfd and size == 24:
        b = unescape(buf)[:4]
        # first 4 bytes page number; the commit frame has a nonzero db size in bytes 4-8 (not visible)
        if b and len(b) == 4:
            wal[owner.get(int.from_bytes(b, 'big'), '?')] += 1
        else:
            wal['?unparsed'] += 1
    elif call == 'pwrite64' and fd == dbfd:
        ckpt[owner.get(off // 4096 + 1, '?')] += 1
    elif call == 'pread64':
        rd['wal' if fd == walfd else owner.get(off // 4096 + 1, '?') if fd == dbfd else 'fd' + fd] += 1
print("syncs/exec %.3f" % (syncs / n))
for title, c in (("WAL frames", wal), ("checkpoint page writes", ckpt), ("page reads", rd)):
    print("%s per exec: %.2f" % (title, sum(c.values()) / n))
    for k, v in c.most_common(8):
        print("   %-28s %.3f" % (k, v / n))
