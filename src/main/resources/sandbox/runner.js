// sandstream's JavaScript session runner (Node.js). Same protocol as runner.py: JSON lines in on
// fd 0, JSON lines out on fd 3, user output raw on fd 1 and 2. User code shares this process and
// can tamper with it; that can only spoil its own session.
'use strict';
const fs = require('fs');
const vm = require('vm');
const path = require('path');
const { Worker } = require('worker_threads');

const DATA = '/mnt/data';
// Requests arrive on fd 4 (the launcher moved them there and put /dev/null on fd 0), so user
// code reading its standard input (process.stdin, readFileSync(0)) sees an empty input, never
// the control channel, as in the Python runner.
const REQUESTS = 4;
const send = (message) => fs.writeSync(3, JSON.stringify(message) + '\n');

// A worker reads requests, so that an interrupt reaches us while user code blocks the main thread.
const shared = new Int32Array(new SharedArrayBuffer(4)); // 1 while user code runs
const reader = new Worker(`
  const { parentPort, workerData } = require('worker_threads');
  const fs = require('fs');
  const { running, requests } = workerData;
  let pending = '';
  const buffer = Buffer.alloc(65536);
  for (;;) {
    let n;
    try { n = fs.readSync(requests, buffer, 0, buffer.length, null); } catch (e) { if (e.code === 'EAGAIN') continue; n = 0; }
    if (n === 0) { process.kill(process.pid, 'SIGKILL'); }
    pending += buffer.toString('utf8', 0, n);
    let newline;
    while ((newline = pending.indexOf('\\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const message = JSON.parse(line);
      if (message.op === 'interrupt') {
        if (Atomics.load(running, 0) === 1) process.kill(process.pid, 'SIGINT');
      } else {
        parentPort.postMessage(message);
      }
    }
  }`, { eval: true, workerData: { running: shared, requests: REQUESTS } });

// Writes to stdout/stderr block instead of queueing in the heap: a flood is paced by the reader
// (and cut at the output limit), every byte is out before the end marker, and the marker's own
// write never meets a full non-blocking pipe.
for (const stream of [process.stdout, process.stderr]) {
  if (stream._handle && typeof stream._handle.setBlocking === 'function') stream._handle.setBlocking(true);
}

/** Resolves once everything user code queued on the stream is written (user code may have replaced it). */
function drained(stream) {
  return new Promise((resolve) => {
    try {
      if (!stream || !stream.writableLength) return resolve();
      stream.once('drain', resolve);
      stream.once('error', resolve);
    } catch (e) {
      resolve();
    }
  });
}

/** The end marker, written whole even when the pipe is momentarily full. */
function writeMarker(fd, marker) {
  const bytes = Buffer.from(marker);
  let done = 0;
  while (done < bytes.length) {
    try {
      done += fs.writeSync(fd, bytes, done);
    } catch (e) {
      if (e.code !== 'EAGAIN') return; // fd closed by user code
    }
  }
}

const context = vm.createContext({
  console, require, process, Buffer, setTimeout, clearTimeout, setInterval, clearInterval,
  setImmediate, clearImmediate, URL, TextEncoder, TextDecoder, structuredClone, fetch: globalThis.fetch,
});
process.on('SIGINT', () => {}); // interrupts are for user code (breakOnSigint), never for the runner

function toJson(value) {
  if (value === undefined || value === null || typeof value === 'function' || typeof value === 'symbol') return null;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? null : JSON.parse(text);
  } catch (e) {
    return String(value);
  }
}

function safeName(name) {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw Object.assign(new Error('invalid file name'), { code: 'EINVALIDNAME' });
  }
  return path.join(DATA, name);
}

function info(name, st) {
  return { name, size: st.size, mtime: st.mtimeMs / 1000 };
}

async function execute(message) {
  const answer = { id: message.id, status: 'Succeeded', result: null };
  Atomics.store(shared, 0, 1);
  try {
    let value = vm.runInContext(message.code, context, { filename: 'cell.js', breakOnSigint: true });
    if (value && typeof value.then === 'function') value = await value;
    answer.result = toJson(value);
  } catch (e) {
    const interrupted = e && e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
    const type = interrupted ? 'KeyboardInterrupt' : (e && e.name) || typeof e;
    answer.status = 'Failed';
    answer.error = { type, message: String((e && e.message) || e).slice(0, 4096) };
    try { fs.writeSync(2, ((e && e.stack) || String(e)) + '\n'); } catch (ignored) { /* user closed fd 2 */ }
  } finally {
    Atomics.store(shared, 0, 0);
  }
  await drained(process.stdout);
  await drained(process.stderr);
  writeMarker(1, message.marker);
  writeMarker(2, message.marker);
  send(answer);
}

/** An fd of a regular file: O_NONBLOCK so a FIFO never blocks the open, O_NOFOLLOW so a symlink is refused. */
function openRegular(file, flags) {
  const fd = fs.openSync(file, flags | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW, 0o644);
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw Object.assign(new Error('not a regular file'), { code: 'ENOTREGULAR' });
  }
  return [fd, st];
}

/** Capped in entries and bytes, so that a session holding a million files answers a bounded line. */
function listing(message) {
  const entries = [];
  let size = 0;
  for (const name of fs.readdirSync(DATA).sort()) {
    const st = fs.lstatSync(path.join(DATA, name));
    if (!st.isFile()) continue;
    const entry = info(name, st);
    size += JSON.stringify(entry).length + 1;
    if (entries.length >= message.maxEntries || size > message.maxBytes) return [entries, true];
    entries.push(entry);
  }
  return [entries, false];
}

function files(message) {
  const answer = { id: message.id, ok: true };
  try {
    if (message.op === 'put') {
      const [fd] = openRegular(safeName(message.name), fs.constants.O_WRONLY | fs.constants.O_CREAT);
      try {
        fs.ftruncateSync(fd, 0);
        fs.writeSync(fd, Buffer.from(message.content, 'base64'));
        answer.file = info(message.name, fs.fstatSync(fd));
      } finally { fs.closeSync(fd); }
    } else if (message.op === 'get') {
      const [fd, st] = openRegular(safeName(message.name), fs.constants.O_RDONLY);
      try {
        if (st.size > message.maxBytes) throw Object.assign(new Error('file too large to download'), { code: 'EINVALIDNAME' });
        answer.content = fs.readFileSync(fd).toString('base64');
        answer.file = info(message.name, st);
      } finally { fs.closeSync(fd); }
    } else if (message.op === 'list') {
      [answer.files, answer.truncated] = listing(message);
    } else if (message.op === 'usage') {
      answer.bytes = 0;
      for (const name of fs.readdirSync(DATA)) {
        const st = fs.lstatSync(path.join(DATA, name));
        if (st.isFile() && name !== message.except) answer.bytes += st.size;
      }
    } else if (message.op === 'delete') {
      fs.unlinkSync(safeName(message.name));
    }
  } catch (e) {
    answer.ok = false;
    answer.error = e.code === 'ENOENT' ? 'NotFound' : e.code === 'EINVALIDNAME' ? 'Invalid'
      : e.code === 'ENOTREGULAR' || e.code === 'EISDIR' ? 'NotRegular' : 'OSError';
    answer.message = String(e.message);
  }
  send(answer);
}

let chain = Promise.resolve();
reader.on('message', (message) => {
  chain = chain.then(() => (message.op === 'exec' ? execute(message) : files(message)));
});
send({ ready: true, runtime: 'node ' + process.versions.node });
