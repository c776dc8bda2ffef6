// sandstream web console: plain browser JavaScript, no dependencies, no build step.
// Every call carries the API key as "Authorization: Bearer"; the key lives in sessionStorage only
// (this tab, until it closes). Server-sent events are read with fetch and a stream reader because
// EventSource cannot send an Authorization header.
'use strict';

(() => {
  const KEY_ITEM = 'sandstream.apiKey';
  const POOL_API_VERSION = '2025-02-02-preview';
  const SESSION_ID = /^[A-Za-z0-9|\-&^%$#(){}[\];<>]{4,128}$/;
  const DASHBOARD_EVERY_MS = 1000;
  const RECENT_ROWS = 25;
  const SPARK_POINTS = 120;
  /** Images a result may carry: a data URL string, or the {type: "image"} object ACA's Python sessions return. */
  const IMAGE_DATA_URL = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$/;
  const IMAGE_FORMATS = new Set(['png', 'jpeg', 'jpg', 'gif', 'webp']);

  const $ = (id) => document.getElementById(id);
  const state = {
    pools: [],          // from the overview: which pool serves which language
    running: null,      // AbortController of the execution being followed
    recent: null,       // AbortController of the results stream
    lastResultId: null, // Last-Event-ID for reconnecting the results stream
    results: new Map(), // executionId -> result document shown in "recent"
    rates: [],
    dashboardTimer: null,
  };

  // ---------------------------------------------------------------- key and calls

  const apiKey = () => sessionStorage.getItem(KEY_ITEM);

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** fetch with the key; a non-2xx answer becomes an ApiError carrying the problem's detail. */
  async function api(path, options = {}) {
    const key = apiKey();
    if (!key) {
      throw new ApiError(401, 'Enter an API key first.');
    }
    const headers = new Headers(options.headers || {});
    headers.set('Authorization', 'Bearer ' + key);
    const response = await fetch(path, { ...options, headers, cache: 'no-store', credentials: 'omit' });
    if (!response.ok) {
      throw new ApiError(response.status, await describeFailure(response));
    }
    return response;
  }

  async function describeFailure(response) {
    const text = await response.text().catch(() => '');
    let detail = text;
    try {
      const body = JSON.parse(text);
      if (body.error && body.error.message) {          // Azure error body (pool API)
        detail = body.error.code + ': ' + body.error.message;
      } else if (body.detail || body.title) {          // RFC 9457 problem
        detail = body.detail || body.title;
        if (Array.isArray(body.errors) && body.errors.length) {
          detail += ' (' + body.errors.map((e) => (e.pointer || '/') + ' ' + (e.detail || '')).join('; ') + ')';
        }
      }
    } catch (ignored) { /* not JSON: the text itself */ }
    if (response.status === 401) {
      setKeyState('key rejected', true);
    }
    return response.status + ' ' + (detail || response.statusText);
  }

  /**
   * Reads a text/event-stream response, calling onEvent({event, data, id}) per event. Returns when
   * the stream ends (or its fetch is aborted).
   */
  async function readEvents(response, onEvent) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = { event: 'message', data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += value;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (event.data.length) {
            onEvent({ event: event.event, data: event.data.join('\n'), id: event.id });
          }
          event = { event: 'message', data: [], id: null };
          continue;
        }
        if (line.startsWith(':')) {
          continue; // heartbeat comment
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.event = val;
        else if (field === 'data') event.data.push(val);
        else if (field === 'id') event.id = val;
      }
    }
  }

  function setKeyState(text, bad) {
    $('key-state').textContent = text;
    $('key-state').classList.toggle('error', !!bad);
  }

  function useKey(key) {
    if (key) {
      sessionStorage.setItem(KEY_ITEM, key);
    } else {
      sessionStorage.removeItem(KEY_ITEM);
    }
    $('api-key').value = '';
    setKeyState(key ? 'key set for this tab' : 'no key', false);
    restartLive();
  }

  // ---------------------------------------------------------------- elements

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(child);
    }
    return node;
  }

  const fmt = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? '–'
    : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

  // ---------------------------------------------------------------- running code

  function appendOutput(text, kind) {
    const out = $('output');
    const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    out.append(el('span', { class: kind, text }));
    if (stick) {
      out.scrollTop = out.scrollHeight;
    }
  }

  function setRunState(value) {
    $('run-state').textContent = value;
    $('run-state').dataset.state = value;
  }

  function sessionId() {
    return $('session').value.trim();
  }

  async function run() {
    if (state.running) {
      state.running.abort();
    }
    const controller = new AbortController();
    state.running = controller;
    $('output').replaceChildren();
    $('result').replaceChildren(el('p', { class: 'muted', text: 'Waiting for the result…' }));
    $('execution-id').textContent = '';
    setRunState('Submitting');
    const body = {
      code: $('code').value,
      language: $('language').value,
      priority: $('priority').value,
      timeoutSeconds: Number($('timeout').value) || 30,
    };
    const session = sessionId();
    if (session) {
      if (!SESSION_ID.test(session)) {
        failRun('A session identifier is 4 to 128 letters, digits or | - & ^ % $ # ( ) { } [ ] ; < >.');
        return;
      }
      body.sessionId = session;
    }
    let executionId;
    try {
      const response = await api('/executions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      executionId = (await response.json()).executionId;
    } catch (e) {
      if (!controller.signal.aborted) failRun(e.message);
      return;
    }
    $('execution-id').textContent = executionId;
    setRunState('Queued');
    let result = null;
    const live = { stdout: '', stderr: '' };
    try {
      const response = await api('/executions/' + encodeURIComponent(executionId) + '/events', {
        headers: { Accept: 'text/event-stream' },
        signal: controller.signal,
      });
      await readEvents(response, (e) => {
        const data = JSON.parse(e.data);
        if (e.event === 'status') setRunState(data.status);
        else if (e.event === 'stdout' || e.event === 'stderr') {
          live[e.event] += data.text;
          appendOutput(data.text, e.event);
        }
        else if (e.event === 'result') result = data;
      });
    } catch (e) {
      if (controller.signal.aborted) return;
      appendOutput('[live stream interrupted: ' + e.message + '; reading the result instead]\n', 'note');
    }
    if (!result && !controller.signal.aborted) {
      result = await pollResult(executionId, controller.signal).catch((e) => { failRun(e.message); return null; });
    }
    if (result && state.running === controller) {
      // Output sent before the stream was subscribed (a quick run) is only in the stored result.
      showResult(result, (result.stdout || '') !== live.stdout || (result.stderr || '') !== live.stderr);
      state.running = null;
      if (result.sessionId) {
        refreshFiles();
      }
    }
  }

  async function pollResult(executionId, signal) {
    for (;;) {
      const doc = await (await api('/executions/' + encodeURIComponent(executionId), { signal })).json();
      if (doc.status !== 'Queued' && doc.status !== 'Running') {
        return doc;
      }
      setRunState(doc.status);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  function failRun(message) {
    setRunState('Error');
    $('result').replaceChildren(el('p', { class: 'error', text: message }));
    state.running = null;
  }

  /** The result document; withOutput: the output panel shows its stored stdout, then stderr. */
  function showResult(doc, withOutput) {
    setRunState(doc.status);
    $('execution-id').textContent = doc.executionId || '';
    if (withOutput) {
      $('output').replaceChildren();
      if (doc.stdout) appendOutput(doc.stdout, 'stdout');
      if (doc.stderr) appendOutput(doc.stderr, 'stderr');
    }
    const t = doc.timings || {};
    const rows = [
      ['status', doc.status],
      ['limit hit', doc.limitHit || 'none'],
      ['queued', t.queueMs === undefined ? '–' : t.queueMs + ' ms'],
      ['ran', t.executionMs === undefined ? '–' : t.executionMs + ' ms'],
      ['accepted', t.acceptedAt || '–'],
      ['started', t.startedAt || '–'],
      ['completed', t.completedAt || '–'],
      ['session', doc.sessionId || '(fresh sandbox)'],
      ['language · lane', (doc.language || '?') + ' · ' + (doc.priority || '?')],
      ['attempt', String(doc.attempt ?? '–')],
    ];
    if (doc.truncated) rows.push(['output', 'truncated']);
    if (doc.error) rows.push(['error', (doc.error.type || '') + ': ' + (doc.error.message || '')]);
    const dl = el('dl');
    for (const [name, value] of rows) {
      const dd = el('dd', { text: value, dataset: { field: name.replace(/\W+/g, '-') } });
      if (name === 'limit hit' && doc.limitHit) dd.classList.add('limit');
      dl.append(el('dt', { text: name }), dd);
    }
    const value = el('div', { id: 'result-value' });
    const image = imageOf(doc.result);
    if (image) {
      value.append(el('img', { id: 'result-image', src: image, alt: 'image result' }));
    } else if (doc.result === null || doc.result === undefined) {
      value.append(el('p', { class: 'muted', text: 'no value (the last line was not an expression)' }));
    } else {
      value.append(el('pre', { id: 'result-json', text: JSON.stringify(doc.result, null, 2) }));
    }
    $('result').replaceChildren(dl, value, outputsOf(doc.outputs));
  }

  /**
   * The rich outputs (figures, tables, display() calls) in order. Images only as base64 data: URLs
   * (SVG too, as an <img>, where it cannot run scripts). HTML goes into an iframe with an empty
   * sandbox attribute: an opaque origin, no scripts, forms, popups or top navigation, so a table
   * from user code renders as HTML without a sanitiser that would have to be right about every
   * trick; it inherits this page's CSP as well. Everything else is text.
   */
  function outputsOf(outputs) {
    const list = el('div', { id: 'result-outputs' });
    for (const output of Array.isArray(outputs) ? outputs : []) {
      const type = String(output && output.type);
      const data = output && output.data;
      if (data === undefined || data === null) {
        if (typeof output.href === 'string') list.append(el('p', { class: 'muted', text: type + ': stored apart' }));
        continue;
      }
      const raster = /^image\/(png|jpeg|gif|webp)$/.exec(type);
      if (raster && typeof data === 'string') {
        const url = imageOf({ type: 'image', format: raster[1], base64_data: data });
        if (url) list.append(el('img', { class: 'output-image', src: url, alt: type + ' output' }));
      } else if (type === 'image/svg+xml' && typeof data === 'string') {
        const bytes = new TextEncoder().encode(data);
        let binary = '';
        bytes.forEach((b) => { binary += String.fromCharCode(b); });
        list.append(el('img', { class: 'output-image', src: 'data:image/svg+xml;base64,' + btoa(binary), alt: 'svg output' }));
      } else if (type === 'text/html' && typeof data === 'string') {
        const frame = el('iframe', { class: 'output-html', sandbox: '', title: 'HTML output', referrerpolicy: 'no-referrer' });
        frame.srcdoc = data;
        list.append(frame);
      } else if (type !== 'text/plain' || !hasRicher(outputs, output)) {
        list.append(el('pre', { class: 'output-text', text: typeof data === 'string' ? data : JSON.stringify(data, null, 2) }));
      }
    }
    return list;
  }

  /** A text/plain right after a richer form of the same value (a table's HTML, a figure) is not shown twice. */
  function hasRicher(outputs, plain) {
    const at = outputs.indexOf(plain);
    const before = at > 0 ? outputs[at - 1] : null;
    return !!before && before.type !== 'text/plain';
  }

  /** A data: URL for an image result, or null. Never anything but a base64 raster image. */
  function imageOf(value) {
    if (typeof value === 'string' && IMAGE_DATA_URL.test(value)) {
      return value.replace(/\s+/g, '');
    }
    if (value && typeof value === 'object' && value.type === 'image' && typeof value.base64_data === 'string') {
      const format = String(value.format || 'png').toLowerCase();
      const url = 'data:image/' + (format === 'jpg' ? 'jpeg' : format) + ';base64,' + value.base64_data;
      return IMAGE_FORMATS.has(format) && IMAGE_DATA_URL.test(url) ? url.replace(/\s+/g, '') : null;
    }
    return null;
  }

  // ---------------------------------------------------------------- session files

  /** The pool the dispatcher picks for a language when no routing rule names one: the first of it. */
  function poolFor(language) {
    const pool = state.pools.find((p) => p.language === language);
    return pool ? pool.pool : language;
  }

  function poolPath(suffix, extra = {}) {
    const params = new URLSearchParams({ 'api-version': POOL_API_VERSION, ...extra });
    return '/pools/' + encodeURIComponent(poolFor($('language').value)) + suffix + '?' + params;
  }

  /** The files listing on its way, if any (see endSession). */
  let filesInFlight = Promise.resolve();

  async function refreshFiles() {
    const session = sessionId();
    const tbody = $('files').tBodies[0];
    $('files-error').textContent = '';
    if (!session || !SESSION_ID.test(session) || !apiKey()) {
      $('files-where').textContent = 'Pick or create a session to see its files.';
      tbody.replaceChildren();
      return;
    }
    $('files-where').textContent = 'pool ' + poolFor($('language').value) + ' · session ' + session;
    try {
      const request = api(poolPath('/files', { identifier: session }));
      // Any call about a session creates it (as in Azure): End session waits for this one first.
      filesInFlight = request.catch(() => null);
      const list = await (await request).json();
      if (sessionId() !== session) return;
      const files = (list.value || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      tbody.replaceChildren(...files.map((f) => el('tr', { dataset: { file: f.name } },
        el('td', { class: 'mono', text: f.name, title: f.name }),
        el('td', { class: 'num', text: fmt(f.sizeInBytes) }),
        el('td', { text: (f.lastModifiedAt || '').replace('T', ' ').replace(/\.\d+Z?$|Z$/, '') }),
        el('td', {},
          el('button', { type: 'button', class: 'link download', text: 'download', onclick: () => download(session, f.name) }),
          el('button', { type: 'button', class: 'link danger delete', text: 'delete', onclick: () => remove(session, f.name) })))));
      if (!files.length) {
        tbody.append(el('tr', {}, el('td', { class: 'muted', colspan: '4', text: 'no files yet' })));
      }
    } catch (e) {
      $('files-error').textContent = e.message;
    }
  }

  async function upload(files) {
    const session = sessionId();
    if (!session || !SESSION_ID.test(session)) {
      $('files-error').textContent = 'Pick or create a session first.';
      return;
    }
    try {
      for (const file of files) {
        const form = new FormData();
        form.append('file', file, file.name);
        await api(poolPath('/files', { identifier: session }), { method: 'POST', body: form });
      }
    } catch (e) {
      $('files-error').textContent = e.message;
    }
    $('upload').value = '';
    refreshFiles();
  }

  async function download(session, name) {
    try {
      const response = await api(poolPath('/files/' + encodeURIComponent(name) + '/content', { identifier: session }));
      const url = URL.createObjectURL(await response.blob());
      const link = el('a', { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      $('files-error').textContent = e.message;
    }
  }

  async function remove(session, name) {
    try {
      await api(poolPath('/files/' + encodeURIComponent(name), { identifier: session }), { method: 'DELETE' });
    } catch (e) {
      $('files-error').textContent = e.message;
    }
    refreshFiles();
  }

  /** DELETE session: the sandbox, its state and files are gone; the picker goes back to a fresh sandbox. */
  async function endSession() {
    const session = sessionId();
    if (!session || !SESSION_ID.test(session)) return;
    await filesInFlight; // a listing still on its way would bring the session back after the delete
    try {
      await api(poolPath('/session', { identifier: session }), { method: 'DELETE' });
    } catch (e) {
      if (e.status !== 404) {
        $('files-error').textContent = e.message;
        return;
      }
    }
    $('session').value = '';
    refreshSessionList();
    refreshFiles();
  }

  async function refreshSessionList() {
    if (!apiKey()) return;
    try {
      const list = await (await api(poolPath('/listSessions'))).json();
      $('session-list').replaceChildren(...(list.sessions || []).map((s) => el('option', { value: s.identifier })));
    } catch (ignored) { /* the picker still takes any identifier */ }
  }

  // ---------------------------------------------------------------- dashboard

  async function refreshDashboard() {
    if (!apiKey()) {
      $('dash-state').textContent = 'enter a key';
      return;
    }
    try {
      const overview = await (await api('/console/api/overview')).json();
      state.pools = overview.pools;
      syncLanguages(overview.pools);
      renderOverview(overview);
      $('dash-state').textContent = 'updated ' + new Date(overview.at).toLocaleTimeString();
      $('dash-state').classList.remove('error');
    } catch (e) {
      $('dash-state').textContent = e.message;
      $('dash-state').classList.add('error');
    }
  }

  /** The language picker lists what the configured pools run (python first), keeping the choice. */
  function syncLanguages(pools) {
    const languages = [...new Set(pools.map((p) => p.language).filter(Boolean))]
      .sort((a, b) => (a === 'python' ? -1 : b === 'python' ? 1 : a.localeCompare(b)));
    const select = $('language');
    const current = [...select.options].map((o) => o.value);
    if (languages.length === 0 || languages.join() === current.join()) {
      return;
    }
    const chosen = select.value;
    select.replaceChildren(...languages.map((l) => el('option', { value: l, text: l })));
    select.value = languages.includes(chosen) ? chosen : languages[0];
  }

  function renderOverview(o) {
    const ex = o.executions;
    $('exec-rate').textContent = fmt(ex.perSecond, 1);
    $('exec-total').textContent = fmt(ex.total);
    $('exec-total').dataset.value = ex.total;
    $('journal-pending').textContent = fmt(o.journal.pending);
    $('exec-status').replaceChildren(...Object.entries(ex.byStatus).map(([status, count]) =>
      el('span', { dataset: { status, value: count } }, el('span', { class: 'badge', dataset: { state: status }, text: status }), ' ' + fmt(count))));
    $('pools').tBodies[0].replaceChildren(...o.pools.map((p) => el('tr', { dataset: { pool: p.pool } },
      el('td', { text: p.pool }), el('td', { text: p.language || '–' }),
      ...['ready', 'busy', 'idle', 'max', 'executions'].map((k) => el('td', { class: 'num', dataset: { k, value: p[k] }, text: fmt(p[k]) })))));
    $('lanes').tBodies[0].replaceChildren(...o.lanes.map((l) => el('tr', { dataset: { lane: l.lane } },
      el('td', { text: l.lane }),
      el('td', { class: 'num', dataset: { k: 'depth', value: l.depth }, text: fmt(l.depth) }),
      el('td', { class: 'num', dataset: { k: 'started', value: l.started }, text: fmt(l.started) }),
      el('td', { class: 'num', text: l.waitP50Ms === null ? '–' : fmt(l.waitP50Ms, 1) + ' ms' }),
      el('td', { class: 'num', text: l.waitP99Ms === null ? '–' : fmt(l.waitP99Ms, 1) + ' ms' }),
      el('td', { class: 'num', text: l.started ? fmt(l.waitMeanMs, 1) + ' ms' : '–' }))));
    state.rates.push(ex.perSecond);
    if (state.rates.length > SPARK_POINTS) state.rates.shift();
    const top = Math.max(1, ...state.rates);
    // The newest reading at the right edge, one step per poll leftwards.
    const step = 120 / (SPARK_POINTS - 1);
    const last = state.rates.length - 1;
    const points = state.rates.map((r, i) => (120 - (last - i) * step).toFixed(1) + ',' + (23 - r * 22 / top).toFixed(1));
    $('rate-spark').querySelector('polyline').setAttribute('points', points.join(' '));
  }

  // ---------------------------------------------------------------- recent results

  async function followResults(controller) {
    while (!controller.signal.aborted && apiKey()) {
      try {
        const headers = { Accept: 'text/event-stream' };
        if (state.lastResultId) headers['Last-Event-ID'] = state.lastResultId;
        const response = await api('/executions/stream', { headers, signal: controller.signal });
        $('stream-state').textContent = 'live';
        await readEvents(response, (e) => {
          if (e.event !== 'result') return;
          state.lastResultId = e.id;
          addRecent(JSON.parse(e.data));
        });
      } catch (e) {
        if (controller.signal.aborted) return;
        $('stream-state').textContent = e.message;
        if (e.status === 401) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  function addRecent(doc) {
    state.results.set(doc.executionId, doc);
    const completed = doc.timings && doc.timings.completedAt ? new Date(doc.timings.completedAt).toLocaleTimeString() : '–';
    const row = el('tr', { dataset: { execution: doc.executionId }, onclick: () => showResult(doc, true), title: 'show this result' },
      el('td', { text: completed }),
      el('td', { class: 'mono', text: doc.executionId.slice(0, 8) }),
      el('td', { text: doc.language || '–' }),
      el('td', {}, el('span', { class: 'badge', dataset: { state: doc.status }, text: doc.status })),
      el('td', { text: doc.subject || '–', title: doc.subject || '' }));
    const tbody = $('recent').tBodies[0];
    tbody.prepend(row);
    while (tbody.rows.length > RECENT_ROWS) {
      state.results.delete(tbody.rows[tbody.rows.length - 1].dataset.execution);
      tbody.deleteRow(tbody.rows.length - 1);
    }
  }

  // ---------------------------------------------------------------- wiring

  function restartLive() {
    if (state.recent) state.recent.abort();
    clearInterval(state.dashboardTimer);
    state.recent = null;
    $('stream-state').textContent = '';
    if (!apiKey()) {
      $('dash-state').textContent = 'enter a key';
      return;
    }
    state.recent = new AbortController();
    followResults(state.recent);
    refreshDashboard().then(() => {
      refreshSessionList();
      refreshFiles();
    });
    state.dashboardTimer = setInterval(() => {
      if (!document.hidden) refreshDashboard();
    }, DASHBOARD_EVERY_MS);
  }

  function newSessionId() {
    const bytes = crypto.getRandomValues(new Uint8Array(6));
    return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('api-key').value.trim();
      if (key) useKey(key);
    });
    $('key-forget').addEventListener('click', () => useKey(null));
    $('run').addEventListener('click', run);
    $('code').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        run();
      } else if (e.key === 'Tab' && !e.shiftKey) {
        e.preventDefault();
        e.target.setRangeText('    ', e.target.selectionStart, e.target.selectionEnd, 'end');
      }
    });
    $('session-new').addEventListener('click', () => {
      $('session').value = newSessionId();
      refreshFiles();
    });
    $('session').addEventListener('change', refreshFiles);
    $('language').addEventListener('change', () => {
      refreshSessionList();
      refreshFiles();
    });
    $('session-end').addEventListener('click', endSession);
    $('upload').addEventListener('change', (e) => upload(Array.from(e.target.files)));
    $('files-refresh').addEventListener('click', () => {
      refreshSessionList();
      refreshFiles();
    });
    setKeyState(apiKey() ? 'key set for this tab' : 'no key', false);
    restartLive();
  });
})();
