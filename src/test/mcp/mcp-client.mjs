// Drives sandstream's /mcp with the official MCP TypeScript SDK (Client + StreamableHTTPClientTransport)
// and prints one JSON object: each case's name -> { ok, detail }. McpServerTest runs it once and asserts
// every case. Usage: node mcp-client.mjs BASE_URL KEY_A KEY_B   (env MCP_SDK: the SDK's package directory)
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [base, keyA, keyB] = process.argv.slice(2);
const sdk = process.env.MCP_SDK;
const { Client } = await import(pathToFileURL(`${sdk}/dist/esm/client/index.js`));
const { StreamableHTTPClientTransport } = await import(pathToFileURL(`${sdk}/dist/esm/client/streamableHttp.js`));
const { LATEST_PROTOCOL_VERSION } = await import(pathToFileURL(`${sdk}/dist/esm/types.js`));

const url = new URL('/mcp', base);
const results = {};
const run = (tag) => `${tag}-${process.pid}-${Date.now().toString(36)}`;

async function check(name, body) {
  try {
    const detail = await body();
    results[name] = { ok: true, detail: detail ?? null };
  } catch (e) {
    results[name] = { ok: false, detail: String(e && e.stack || e) };
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function connect(key) {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  const client = new Client({ name: 'sandstream-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

const texts = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const executionIdOf = (result) => /\[execution ([0-9a-f-]{36})/.exec(texts(result))?.[1];

async function rawPost(headers, body) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

await check('unauthorized', async () => {
  const none = await rawPost({}, initialize);
  const wrong = await rawPost({ Authorization: 'Bearer not-a-key' }, initialize);
  const get = await fetch(url, { headers: { Accept: 'text/event-stream' } });
  assert(none.status === 401 && wrong.status === 401 && get.status === 401,
    `expected 401s, got ${none.status}, ${wrong.status}, ${get.status}`);
  let refused = false;
  try {
    await connect('not-a-key');
  } catch (e) {
    refused = /401/.test(String(e));
  }
  assert(refused, 'the SDK client connected with a wrong key');
  return { none: none.status, wrong: wrong.status, get: get.status };
});

const a = await connect(keyA);
const b = await connect(keyB);
const session = run('mcp');

await check('initialize', async () => {
  const info = a.client.getServerVersion();
  assert(info.name === 'sandstream', `server name ${info.name}`);
  assert(a.transport.sessionId, 'no Mcp-Session-Id');
  assert(a.client.getServerCapabilities().tools, 'no tools capability');
  assert(a.transport.protocolVersion === LATEST_PROTOCOL_VERSION,
    `negotiated ${a.transport.protocolVersion}, the client's latest is ${LATEST_PROTOCOL_VERSION}`);
  // An older revision the server also speaks is answered as asked; an unknown one gets the server's latest.
  const older = await rawPost({ Authorization: `Bearer ${keyA}` }, initialize);
  const olderVersion = (await older.json()).result.protocolVersion;
  const future = await rawPost({ Authorization: `Bearer ${keyA}` },
    { ...initialize, params: { ...initialize.params, protocolVersion: '2099-01-01' } });
  const futureVersion = (await future.json()).result.protocolVersion;
  assert(olderVersion === '2025-06-18', `asked 2025-06-18, got ${olderVersion}`);
  assert(futureVersion !== '2099-01-01', 'an unknown version was echoed');
  return { negotiated: a.transport.protocolVersion, olderVersion, futureVersion };
});

await check('listTools', async () => {
  const { tools } = await a.client.listTools();
  const names = tools.map((t) => t.name).sort();
  for (const name of ['download_file', 'end_session', 'list_files', 'list_languages', 'run_code', 'upload_file']) {
    assert(names.includes(name), `missing tool ${name} in ${names}`);
  }
  const runCode = tools.find((t) => t.name === 'run_code');
  assert(runCode.description.length > 100, 'run_code has no real description');
  assert(runCode.inputSchema.required.includes('code'), 'code not required');
  assert(runCode.inputSchema.properties.language.enum.includes('python'), 'python not among the languages');
  assert(runCode.inputSchema.properties.priority.enum.includes('high'), 'no priority');
  return names;
});

let executionA;
await check('statefulSession', async () => {
  const first = await a.client.callTool({ name: 'run_code', arguments: { code: 'x = 21', sessionId: session } });
  assert(!first.isError, `first run failed: ${texts(first)}`);
  const second = await a.client.callTool({ name: 'run_code',
    arguments: { code: 'print(x * 2)', sessionId: session, priority: 'high', timeoutSeconds: 30 } });
  assert(!second.isError, `second run failed: ${texts(second)}`);
  assert(texts(second).startsWith('42'), `stdout: ${texts(second)}`);
  executionA = executionIdOf(second);
  assert(executionA, `no execution id in ${texts(second)}`);
  return texts(second);
});

await check('failingRun', async () => {
  const result = await a.client.callTool({ name: 'run_code', arguments: { code: 'def f():\n    return 1 / 0\nf()' } });
  assert(result.isError === true, 'isError is not true');
  assert(/ZeroDivisionError/.test(texts(result)) && /Traceback|line 2/.test(texts(result)), `no traceback: ${texts(result)}`);
  return texts(result);
});

await check('figure', async () => {
  const code = 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()';
  const result = await a.client.callTool({ name: 'run_code', arguments: { code } });
  assert(!result.isError, texts(result));
  const image = result.content.find((c) => c.type === 'image');
  assert(image && image.mimeType === 'image/png', `no PNG image in ${JSON.stringify(result.content.map((c) => c.type))}`);
  const png = Buffer.from(image.data, 'base64');
  assert(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'not a PNG signature');
  assert(png.subarray(12, 16).toString('latin1') === 'IHDR', 'no IHDR chunk');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  assert(width > 100 && height > 100, `size ${width}x${height}`);
  return { width, height, bytes: png.length };
});

await check('htmlTable', async () => {
  const code = 'import pandas as pd\npd.DataFrame({"a": [1, 2], "b": [3, 4]})';
  const result = await a.client.callTool({ name: 'run_code', arguments: { code } });
  assert(!result.isError, texts(result));
  const html = result.content.find((c) => c.type === 'resource' && c.resource.mimeType === 'text/html');
  assert(html && /<table/.test(html.resource.text), `no HTML table in ${JSON.stringify(result.content)}`);
  return html.resource.uri;
});

await check('progress', async () => {
  const seen = [];
  const code = 'import time\nfor i in range(3):\n    print("tick", i, flush=True)\n    time.sleep(0.4)';
  const result = await a.client.callTool({ name: 'run_code', arguments: { code } }, undefined,
    { onprogress: (p) => seen.push(p.message), resetTimeoutOnProgress: true });
  assert(!result.isError, texts(result));
  // Chunks arrive as the code writes them (a line may come in pieces), each as "stdout: <chunk>".
  const live = seen.map((m) => m.replace(/^stdout: /, '')).join('');
  assert(seen.every((m) => m.startsWith('stdout: ')) && live === 'tick 0\ntick 1\ntick 2\n', `progress: ${JSON.stringify(seen)}`);
  return seen;
});

const bytes = Buffer.concat([randomBytes(3000), Buffer.from([0xff, 0xfe, 0x00])]);
const sha = createHash('sha256').update(bytes).digest('hex');
await check('fileRoundTrip', async () => {
  const up = await a.client.callTool({ name: 'upload_file',
    arguments: { sessionId: session, name: 'blob.bin', contentBase64: bytes.toString('base64') } });
  assert(!up.isError, texts(up));
  const read = await a.client.callTool({ name: 'run_code', arguments: { sessionId: session,
    code: 'import hashlib\nd = open("/mnt/data/blob.bin", "rb").read()\nopen("/mnt/data/out.txt", "w").write(str(len(d)))\nprint(hashlib.sha256(d).hexdigest())' } });
  assert(texts(read).startsWith(sha), `the sandbox read ${texts(read)}, expected ${sha}`);
  const list = await a.client.callTool({ name: 'list_files', arguments: { sessionId: session } });
  assert(/blob\.bin\t3003/.test(texts(list)) && /out\.txt/.test(texts(list)), `listing: ${texts(list)}`);
  const down = await a.client.callTool({ name: 'download_file', arguments: { sessionId: session, name: 'blob.bin' } });
  const blob = down.content.find((c) => c.type === 'resource');
  assert(blob && Buffer.from(blob.resource.blob, 'base64').equals(bytes), 'the downloaded bytes differ');
  const out = await a.client.callTool({ name: 'download_file', arguments: { sessionId: session, name: 'out.txt' } });
  assert(Buffer.from(out.content[0].resource.blob, 'base64').toString() === '3003', 'out.txt differs');
  const missing = await a.client.callTool({ name: 'download_file', arguments: { sessionId: session, name: 'nope.txt' } });
  assert(missing.isError === true, 'a missing file is not an error');
  const escape = await a.client.callTool({ name: 'download_file', arguments: { sessionId: session, name: '../etc/passwd' } });
  assert(escape.isError === true, 'a path outside /mnt/data was not refused');
  return texts(list);
});

await check('tenantIsolation', async () => {
  // The same sessionId under another tenant's key is another session: no files, no variables.
  const list = await b.client.callTool({ name: 'list_files', arguments: { sessionId: session } });
  assert(!/blob\.bin/.test(texts(list)), `tenant B sees A's files: ${texts(list)}`);
  const down = await b.client.callTool({ name: 'download_file', arguments: { sessionId: session, name: 'blob.bin' } });
  assert(down.isError === true, "tenant B downloaded A's file");
  const vars = await b.client.callTool({ name: 'run_code', arguments: { code: 'print(x)', sessionId: session } });
  assert(vars.isError === true && /NameError/.test(texts(vars)), `tenant B sees A's variables: ${texts(vars)}`);
  // A's MCP session is not there for B's key, and A's execution is not visible to B.
  const hijack = await rawPost({ Authorization: `Bearer ${keyB}`, 'Mcp-Session-Id': a.transport.sessionId,
    'MCP-Protocol-Version': a.transport.protocolVersion }, { jsonrpc: '2.0', id: 9, method: 'tools/list' });
  assert(hijack.status === 404, `B used A's MCP session: ${hijack.status}`);
  const mine = await fetch(new URL(`/executions/${executionA}`, base), { headers: { Authorization: `Bearer ${keyA}` } });
  const theirs = await fetch(new URL(`/executions/${executionA}`, base), { headers: { Authorization: `Bearer ${keyB}` } });
  const doc = await mine.json();
  assert(mine.status === 200 && doc.source === '/mcp' && doc.stdout === '42\n' && doc.priority === 'high',
    `A's execution on /executions: ${mine.status} ${JSON.stringify(doc)}`);
  assert(theirs.status === 404, `B reads A's execution: ${theirs.status}`);
  return { hijack: hijack.status, theirs: theirs.status };
});

await check('languages', async () => {
  const all = await a.client.callTool({ name: 'list_languages', arguments: {} });
  assert(/python/.test(texts(all)) && /javascript/.test(texts(all)), texts(all));
  const python = await a.client.callTool({ name: 'list_languages', arguments: { language: 'python' } });
  assert(/numpy/.test(texts(python)) && /pandas/.test(texts(python)), texts(python));
  return texts(all);
});

await check('endSession', async () => {
  const ended = await a.client.callTool({ name: 'end_session', arguments: { sessionId: session } });
  assert(!ended.isError, texts(ended));
  const after = await a.client.callTool({ name: 'run_code', arguments: { code: 'print(x)', sessionId: session } });
  assert(after.isError === true && /NameError/.test(texts(after)), `the session survived: ${texts(after)}`);
  return texts(ended);
});

await check('invalidArguments', async () => {
  const result = await a.client.callTool({ name: 'run_code', arguments: { code: 'print(1)', language: 'cobol' } });
  assert(result.isError === true, `an unknown language was run: ${texts(result)}`);
  // Past the schema, the service's own validation (the path of POST /executions) refuses it as a tool error too.
  const large = await a.client.callTool({ name: 'run_code', arguments: { code: '#'.repeat(262145) } });
  assert(large.isError === true && /not valid/.test(texts(large)) && /\/code/.test(texts(large)), `too large: ${texts(large)}`);
  return [texts(result), texts(large)];
});

/** SSE events of a response as they arrive: { id, data } objects. */
async function* events(response) {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let cut;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data) yield { id, data: JSON.parse(data) };
    }
  }
}

await check('resumeAndGetStream', async () => {
  const auth = { Authorization: `Bearer ${keyA}` };
  const init = await rawPost(auth, initialize);
  const sessionId = init.headers.get('mcp-session-id');
  const headers = { ...auth, 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': '2025-06-18' };
  const initialized = await rawPost(headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
  assert(initialized.status === 202, `notification answered ${initialized.status}`);
  // The GET stream opens once per session; a second one at the same time is a conflict.
  const listening = new AbortController();
  const get = await fetch(url, { headers: { ...headers, Accept: 'text/event-stream' }, signal: listening.signal });
  assert(get.status === 200 && get.headers.get('content-type').startsWith('text/event-stream'), `GET: ${get.status}`);
  const second = await fetch(url, { headers: { ...headers, Accept: 'text/event-stream' } });
  assert(second.status === 409, `a second GET stream: ${second.status}`);
  listening.abort();
  // A run's stream dropped after its first event, resumed with Last-Event-ID: the rest arrives, the result last.
  const dropped = new AbortController();
  const call = await fetch(url, { method: 'POST', signal: dropped.signal,
    headers: { ...headers, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'run_code', _meta: { progressToken: 'p' },
      arguments: { code: 'import time\nprint("first", flush=True)\ntime.sleep(1.5)\nprint("second", flush=True)' } } }) });
  assert(call.headers.get('content-type').startsWith('text/event-stream'), 'a tools/call is not answered as SSE');
  const first = (await events(call).next()).value;
  assert(first.id && first.data.method === 'notifications/progress', `first event: ${JSON.stringify(first)}`);
  dropped.abort();
  const resumed = await fetch(url, { headers: { ...headers, Accept: 'text/event-stream', 'Last-Event-ID': first.id } });
  assert(resumed.status === 200, `resume: ${resumed.status}`);
  const rest = [];
  for await (const event of events(resumed)) rest.push(event);
  const last = rest[rest.length - 1];
  assert(last && last.data.id === 7 && /second/.test(JSON.stringify(last.data.result)), `resumed: ${JSON.stringify(rest)}`);
  assert(!rest.some((e) => e.id === first.id), 'the event before Last-Event-ID was sent again');
  const unknown = await fetch(url, { headers: { ...headers, Accept: 'text/event-stream', 'Last-Event-ID': 'nope_1' } });
  assert(unknown.status === 404, `an unknown Last-Event-ID: ${unknown.status}`);
  return rest.map((e) => e.id);
});

await check('deleteSession', async () => {
  const id = b.transport.sessionId;
  await b.transport.terminateSession();
  const after = await rawPost({ Authorization: `Bearer ${keyB}`, 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-06-18' },
    { jsonrpc: '2.0', id: 3, method: 'tools/list' });
  assert(after.status === 404, `a deleted session answered ${after.status}`);
  return after.status;
});

await a.client.close();
await b.client.close();
process.stdout.write(JSON.stringify(results) + '\n');
