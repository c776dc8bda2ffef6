// End-to-end checks of the web console in a real headless Chromium, driven by playwright-core.
// Run by io.sandstream.console.ConsoleBrowserTest against a running service:
//
//   node console-e2e.cjs <scenario> <baseUrl> <apiKey> <outDir>
//
// Environment: PLAYWRIGHT_CORE (the playwright-core package directory) and CHROMIUM (the browser).
// Prints one line per check; exits 1 at the first failed check, leaving a screenshot in outDir.
'use strict';

const fs = require('fs');
const path = require('path');

const [scenario, base, apiKey, outDir] = process.argv.slice(2);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const WAIT = { timeout: 60_000 };

function check(condition, message) {
  if (!condition) {
    throw new Error('check failed: ' + message);
  }
  console.log('ok - ' + message);
}

// ------------------------------------------------------------------ page helpers

async function openConsole(browser, { key = apiKey } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  page.problems = [];
  page.calls = [];
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    // What user HTML in a sandboxed output frame is refused (its scripts, its inline styles) is the
    // frame doing its job, not a problem of the console; the console page itself must stay clean.
    // (Chrome names the frame in the first message only; the CSP's refusal of the frame's inline
    // <style> carries no location.)
    const inOutputFrame = /about:srcdoc/.test(m.text()) || /about:srcdoc/.test((m.location() || {}).url || '')
      || /^Applying inline style violates/.test(m.text());
    if (m.type() === 'error' && !/status of 401/.test(m.text()) && !inOutputFrame) page.problems.push('console error: ' + m.text());
  });
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.origin === new URL(base).origin) page.calls.push({ path: url.pathname, auth: r.headers()['authorization'] || null });
  });
  await page.goto(base + '/');
  if (key) {
    await enterKey(page, key);
    await page.waitForFunction(() => /^updated/.test(document.getElementById('dash-state').textContent), null, WAIT);
    await page.waitForFunction(() => document.getElementById('stream-state').textContent === 'live', null, WAIT);
  }
  return page;
}

async function enterKey(page, key) {
  await page.fill('#api-key', key);
  await page.click('#key-save');
}

async function setCode(page, code, { language = 'python', timeout = 30, priority = 'normal' } = {}) {
  await page.selectOption('#language', language);
  await page.selectOption('#priority', priority);
  await page.fill('#timeout', String(timeout));
  await page.fill('#code', code);
}

const text = (page, selector) => page.textContent(selector);
const runState = (page) => text(page, '#run-state');
const field = (page, name) => text(page, `#result dd[data-field="${name}"]`);

/** Clicks Run and waits until the result is shown; returns its status. */
async function runAndWait(page) {
  await page.click('#run');
  await page.waitForFunction(() => {
    const s = document.getElementById('run-state').dataset.state;
    return !['Submitting', 'Queued', 'Running', 'idle'].includes(s) && document.querySelector('#result dl');
  }, null, WAIT);
  return runState(page);
}

/** All the output shown for one stream; it may have come in several chunks. */
function streamText(page, kind) {
  return page.$$eval('#output .' + kind, (spans) => spans.map((s) => s.textContent).join(''));
}

async function resultValue(page) {
  return JSON.parse(await text(page, '#result-json'));
}

async function number(page, selector) {
  return Number(await page.getAttribute(selector, 'data-value'));
}

async function newSession(page) {
  await page.click('#session-new');
  const session = await page.inputValue('#session');
  check(/^console-[0-9a-f]{12}$/.test(session), 'a new session identifier: ' + session);
  return session;
}

/** End session: the pool no longer lists it, and the picker is back to a fresh sandbox. */
async function endSession(page, session) {
  await page.click('#session-end');
  await page.waitForFunction(() => document.getElementById('session').value === '', null, WAIT);
  const listed = await page.evaluate(async ([s, key]) => {
    const r = await fetch('/pools/python/listSessions?api-version=2025-02-02-preview', { headers: { Authorization: 'Bearer ' + key } });
    return (await r.json()).sessions.some((x) => x.identifier === s);
  }, [session, apiKey]);
  check(!listed, 'End session deleted ' + session);
}

async function fileRow(page, name) {
  return page.waitForSelector(`#files tr[data-file="${name}"]`, WAIT);
}

async function downloadBytes(page, name) {
  const [download] = await Promise.all([
    page.waitForEvent('download', WAIT),
    page.click(`#files tr[data-file="${name}"] button.download`),
  ]);
  check(download.suggestedFilename() === name, 'the download is named ' + name);
  return fs.readFileSync(await download.path());
}

// ------------------------------------------------------------------ scenarios

const scenarios = {
  /** Type code, run, see output live (before the result), then the result with its fields. */
  async run(browser) {
    const page = await openConsole(browser);
    // Ticks for six seconds: whenever the stream gets subscribed (late on a busy machine), some
    // ticks are still to come and must show up live, before the result.
    await setCode(page, [
      'import time',
      'for i in range(1, 13):',
      '    print("tick", i, flush=True)',
      '    time.sleep(0.5)',
      '6 * 7',
    ].join('\n'));
    const sawRunning = page.waitForFunction(() => document.getElementById('run-state').dataset.state === 'Running', null, WAIT);
    await page.click('#run');
    await page.waitForFunction(() => document.getElementById('output').textContent.includes('tick'), null, WAIT);
    const live = await page.evaluate(() => ({
      state: document.getElementById('run-state').dataset.state,
      result: !!document.querySelector('#result dl'),
      output: document.getElementById('output').textContent,
    }));
    check(['Queued', 'Running'].includes(live.state), 'output arrives while the code runs (state ' + live.state + ')');
    check(!live.result, 'output is shown before any result');
    check(!live.output.includes('tick 12'), 'the last tick is not there yet');
    await sawRunning;
    check(true, 'the status Running was shown');
    await page.waitForFunction(() => document.getElementById('run-state').dataset.state === 'Succeeded', null, WAIT);
    const ticks = Array.from({ length: 12 }, (_, i) => 'tick ' + (i + 1) + '\n').join('');
    check((await text(page, '#output')) === ticks, 'the whole stdout in order');
    check((await resultValue(page)) === 42, 'the last expression value is 42');
    check((await field(page, 'limit-hit')) === 'none', 'no limit hit');
    check(/^\d+ ms$/.test(await field(page, 'ran')), 'the execution time is shown');
    check(/^\d+ ms$/.test(await field(page, 'queued')), 'the queue time is shown');
    check(/T.*Z$/.test(await field(page, 'completed')), 'the completion time is shown');
    check((await field(page, 'language-lane')) === 'python · normal', 'language and lane');

    await setCode(page, 'print("before")\n1 / 0');
    check((await runAndWait(page)) === 'Failed', 'raising code is Failed');
    const stderr = await streamText(page, 'stderr');
    check(stderr.includes('Traceback') && stderr.includes('ZeroDivisionError'), 'the traceback is shown as stderr');
    check((await streamText(page, 'stdout')) === 'before\n', 'stdout is shown apart from it');
    check((await field(page, 'error')).startsWith('ZeroDivisionError'), 'the error type is shown');

    await setCode(page, 'while True:\n    pass', { timeout: 1, priority: 'high' });
    check((await runAndWait(page)) === 'TimedOut', 'an endless loop times out');
    check((await field(page, 'limit-hit')) === 'wall', 'the limit hit is wall');
    check((await field(page, 'language-lane')) === 'python · high', 'the chosen priority is the lane');

    await setCode(page, 'console.log("from node"); [1, 2].map(x => x * 2)', { language: 'javascript' });
    check((await runAndWait(page)) === 'Succeeded', 'javascript runs');
    check(JSON.stringify(await resultValue(page)) === '[2,4]', 'javascript result value');
    check((await text(page, '#output')) === 'from node\n', 'javascript output');

    // The result format has no image type: a value that is a base64 data URL of a raster image
    // (or ACA's {type: "image", format, base64_data} object) is shown as the image.
    await setCode(page, PNG_CODE);
    check((await runAndWait(page)) === 'Succeeded', 'the image code runs');
    await page.waitForFunction(() => {
      const img = document.getElementById('result-image');
      return img && img.complete && img.naturalWidth > 0;
    }, null, WAIT);
    const size = await page.evaluate(() => [document.getElementById('result-image').naturalWidth,
      document.getElementById('result-image').naturalHeight]);
    check(size[0] === 48 && size[1] === 32, 'an image result is rendered as a 48x32 image');
    await setCode(page, PNG_CODE.replace(/\n"data:image\/png;base64," \+ (.*)$/,
      '\n{"type": "image", "format": "png", "base64_data": $1}'));
    check((await runAndWait(page)) === 'Succeeded', 'the code returning an ACA-style image object runs');
    await page.waitForFunction(() => document.getElementById('result-image')?.naturalWidth === 48, null, WAIT);
    check(true, 'an {type: "image", format, base64_data} result is rendered as the image');

    await setCode(page, '"<img src=x onerror=alert(1)>"');
    check((await runAndWait(page)) === 'Succeeded', 'markup in a result');
    check(!(await page.$('#result img')), 'markup in a result is shown as text, never as HTML');

    // Rich outputs: a matplotlib figure as a PNG, a DataFrame as an HTML table in a sandboxed frame.
    await setCode(page, 'import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.show()');
    check((await runAndWait(page)) === 'Succeeded', 'the figure code runs');
    await page.waitForFunction(() => {
      const img = document.querySelector('#result-outputs img.output-image');
      return img && img.complete && img.naturalWidth > 0;
    }, null, WAIT);
    const figure = await page.evaluate(() => {
      const img = document.querySelector('#result-outputs img.output-image');
      return [img.naturalWidth, img.naturalHeight];
    });
    check(figure[0] === 640 && figure[1] === 480, 'a figure is rendered as its 640x480 PNG');

    await setCode(page, 'import pandas as pd\nclass Evil:\n    def _repr_html_(self):\n'
      + '        return "<b id=evil>x</b><script>document.getElementById(\'evil\').textContent = \'ran\'</script>"\n'
      + 'display(Evil())\npd.DataFrame({"month": ["jan", "feb"], "revenue": [10, 12]})');
    check((await runAndWait(page)) === 'Succeeded', 'the table code runs');
    const frames = await page.$$('#result-outputs iframe.output-html');
    check(frames.length === 2, 'each HTML output is a frame');
    check((await frames[0].getAttribute('sandbox')) === '', 'HTML frames are sandboxed without any permission');
    const table = await (await frames[1].contentFrame()).waitForSelector('table', WAIT);
    check((await table.textContent()).includes('feb'), 'the DataFrame is rendered as an HTML table');
    const evil = await (await frames[0].contentFrame()).waitForSelector('#evil', WAIT);
    await page.waitForTimeout(300);
    check((await evil.textContent()) === 'x', 'a script in an HTML output does not run');
    return page;
  },

  /** Two runs in one session share its state; without the session the state is not there. */
  async session(browser) {
    const page = await openConsole(browser);
    const session = await newSession(page);
    await setCode(page, 'counter = 41\nprint("set")');
    check((await runAndWait(page)) === 'Succeeded', 'the first run in ' + session);
    await setCode(page, 'counter + 1');
    check((await runAndWait(page)) === 'Succeeded', 'the second run in the same session');
    check((await resultValue(page)) === 42, 'the second run sees the first run\'s variable');
    await page.fill('#session', '');
    await setCode(page, 'counter');
    check((await runAndWait(page)) === 'Failed', 'a fresh sandbox does not have it');
    check((await field(page, 'error')).startsWith('NameError'), 'NameError without the session');
    await page.fill('#session', session);
    await page.click('#files-refresh');
    await page.waitForFunction((s) => Array.from(document.querySelectorAll('#session-list option')).some((o) => o.value === s),
      session, WAIT);
    check(true, 'the session picker lists ' + session);
    await endSession(page, session);
    return page;
  },

  /** Upload, list, use from code, download byte-exact, delete: through the pool API. */
  async files(browser) {
    const page = await openConsole(browser);
    const session = await newSession(page);
    await page.waitForFunction((s) => document.getElementById('files-where').textContent.includes(s), session, WAIT);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await page.setInputFiles('#upload', { name: 'all-bytes.bin', mimeType: 'application/octet-stream', buffer: bytes });
    const row = await fileRow(page, 'all-bytes.bin');
    check((await row.$eval('td.num', (td) => td.textContent)) === '256', 'the uploaded file is listed with its 256 bytes');

    await setCode(page, [
      'data = open("/mnt/data/all-bytes.bin", "rb").read()',
      'open("/mnt/data/made-here.txt", "w").write("written in the sandbox\\n")',
      'data == bytes(range(256))',
    ].join('\n'));
    check((await runAndWait(page)) === 'Succeeded', 'code in the session reads the uploaded file');
    check((await resultValue(page)) === true, 'the session sees the uploaded bytes exactly');
    await fileRow(page, 'made-here.txt');
    check(true, 'a file the code wrote is listed after the run');

    check((await downloadBytes(page, 'all-bytes.bin')).equals(bytes), 'the download is byte-exact');
    check((await downloadBytes(page, 'made-here.txt')).toString() === 'written in the sandbox\n', 'the written file downloads');

    await page.click('#files tr[data-file="all-bytes.bin"] button.delete');
    await page.waitForSelector('#files tr[data-file="all-bytes.bin"]', { state: 'detached', ...WAIT });
    check(!!(await page.$('#files tr[data-file="made-here.txt"]')), 'delete removed only that file');
    await setCode(page, 'import os\nsorted(os.listdir("/mnt/data"))');
    check((await runAndWait(page)) === 'Succeeded', 'listing /mnt/data from code');
    check(JSON.stringify(await resultValue(page)) === '["made-here.txt"]', 'the deleted file is gone inside the session');
    await endSession(page, session);
    return page;
  },

  /** The dashboard's numbers move when work runs, and the result arrives on the results stream. */
  async dashboard(browser) {
    const page = await openConsole(browser);
    const before = {
      total: await number(page, '#exec-total'),
      pool: await number(page, '#pools tr[data-pool="python"] td[data-k="executions"]'),
      started: await number(page, '#lanes tr[data-lane="low"] td[data-k="started"]'),
      succeeded: await page.evaluate(() => Number(document.querySelector('#exec-status [data-status="Succeeded"]')?.dataset.value || 0)),
    };
    await setCode(page, 'import time\ntime.sleep(4)\n"slept"', { priority: 'low' });
    // The rate shows recent work for a few seconds only: from quiet, watch for it from the start.
    await page.waitForFunction(() => document.getElementById('exec-rate').textContent === '0.0', null, WAIT);
    const rateMoved = page.waitForFunction(() => Number(document.getElementById('exec-rate').textContent) > 0, null, WAIT);
    await page.click('#run');
    await page.waitForFunction(() => Number(document.querySelector('#pools tr[data-pool="python"] td[data-k="busy"]').dataset.value) >= 1,
      null, WAIT);
    check(true, 'the python pool shows a busy session while the code runs');
    await page.waitForFunction(() => document.getElementById('run-state').dataset.state === 'Succeeded', null, WAIT);
    const id = await text(page, '#execution-id');
    await page.waitForFunction((b) => Number(document.getElementById('exec-total').dataset.value) > b, before.total, WAIT);
    check(true, 'the executions total moved past ' + before.total);
    await page.waitForFunction((b) => Number(document.querySelector('#pools tr[data-pool="python"] td[data-k="executions"]').dataset.value) > b,
      before.pool, WAIT);
    check(true, 'the python pool\'s executions moved past ' + before.pool);
    await page.waitForFunction((b) => Number(document.querySelector('#lanes tr[data-lane="low"] td[data-k="started"]').dataset.value) > b,
      before.started, WAIT);
    check(true, 'the low lane counted the start');
    await page.waitForFunction((b) => Number(document.querySelector('#exec-status [data-status="Succeeded"]')?.dataset.value || 0) > b,
      before.succeeded, WAIT);
    check(true, 'Succeeded executions moved past ' + before.succeeded);
    await rateMoved;
    check(true, 'executions per second showed the recent work');
    await page.waitForSelector(`#recent tr[data-execution="${id}"]`, WAIT);
    check(true, 'the result arrived on the results stream');
    await setCode(page, '');
    await page.click(`#recent tr[data-execution="${id}"]`);
    check((await resultValue(page)) === 'slept', 'a recent result opens in the result view');
    return page;
  },

  /** The key lives in this tab's sessionStorage only; every API call carries it. */
  async key(browser) {
    const source = await (await fetch(base + '/')).text();
    check(!source.includes(apiKey), 'the page source holds no key');
    const page = await openConsole(browser, { key: null });
    await page.waitForFunction(() => document.getElementById('dash-state').textContent === 'enter a key', null, WAIT);
    check(true, 'without a key nothing is called');
    await enterKey(page, 'not-a-key');
    await page.waitForFunction(() => document.getElementById('key-state').textContent === 'key rejected', null, WAIT);
    check(true, 'a wrong key is reported as rejected');
    await enterKey(page, apiKey);
    await page.waitForFunction(() => /^updated/.test(document.getElementById('dash-state').textContent), null, WAIT);
    const stored = await page.evaluate(() => ({ session: sessionStorage.getItem('sandstream.apiKey'), local: localStorage.length,
      cookies: document.cookie, field: document.getElementById('api-key').value }));
    check(stored.session === apiKey, 'the key is in sessionStorage');
    check(stored.local === 0 && stored.cookies === '', 'nothing in localStorage or cookies');
    check(stored.field === '', 'the key field is emptied');
    await page.reload();
    await page.waitForFunction(() => /^updated/.test(document.getElementById('dash-state').textContent), null, WAIT);
    check(true, 'a reload of the tab keeps the key');
    const other = await (await browser.newContext()).newPage();
    await other.goto(base + '/');
    await other.waitForFunction(() => document.getElementById('dash-state').textContent === 'enter a key', null, WAIT);
    check(true, 'another browser session does not have it');
    await page.click('#key-forget');
    check((await page.evaluate(() => sessionStorage.length)) === 0, 'Forget removes it');

    const assets = new Set(['/', '/console/console.js', '/console/console.css']);
    const calls = page.calls.filter((c) => !assets.has(c.path));
    check(calls.length > 0, calls.length + ' API calls made');
    const bare = calls.filter((c) => !c.auth || !c.auth.startsWith('Bearer '));
    check(bare.length === 0, 'every API call carried a bearer key ' + JSON.stringify(bare));
    return page;
  },

  /** docs/console.png: a session with a file, live output and an image result, the dashboard, recent results. */
  async screenshot(browser) {
    const page = await openConsole(browser);
    await setCode(page, 'console.log("warming up")\n21 * 2', { language: 'javascript' });
    await runAndWait(page);
    await setCode(page, 'import missing_module', { language: 'python' });
    await runAndWait(page);
    const session = await newSession(page);
    await page.setInputFiles('#upload', { name: 'sales.csv', mimeType: 'text/csv', buffer: Buffer.from('month,units\njan,12\nfeb,19\nmar,7\n') });
    await fileRow(page, 'sales.csv');
    await setCode(page, 'rows = open("/mnt/data/sales.csv").read().split()[1:]\nprint("rows:", rows)\nsum(int(r.split(",")[1]) for r in rows)');
    await runAndWait(page);
    await setCode(page, 'print("a chart drawn in session ' + session + '")\n' + PNG_CODE.replace('w, h = 48, 32', 'w, h = 360, 160'));
    check((await runAndWait(page)) === 'Succeeded', 'the screenshot\'s last run');
    await page.waitForFunction(() => document.getElementById('result-image')?.naturalWidth > 0, null, WAIT);
    await page.$eval('#code', (t) => { t.scrollTop = 0; });
    await page.waitForTimeout(1500); // one more dashboard refresh
    const file = path.join(outDir, 'console.png');
    await page.screenshot({ path: file, fullPage: true });
    check(fs.statSync(file).size > 10_000, 'screenshot written to ' + file);
    return page;
  },
};

/** Python that builds a 48x32 PNG by hand (no libraries in the sandbox) and returns it as a data URL. */
const PNG_CODE = String.raw`# a bar chart as a PNG built with zlib and struct, returned as a data URL
import base64, struct, zlib
w, h = 48, 32
bars = [12, 19, 7, 25, 16]
def px(x, y):
    i = x * len(bars) // w
    if (x * len(bars)) % w < w * 0.8 and (h - y) * 30 <= bars[i] * h:
        return (31, 111, 235)
    return (255, 255, 255)
raw = b"".join(b"\x00" + bytes(c for x in range(w) for c in px(x, y)) for y in range(h))
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
"data:image/png;base64," + base64.b64encode(png).decode()`;

(async () => {
  const run = scenarios[scenario];
  if (!run) {
    console.error('unknown scenario ' + scenario + '; one of ' + Object.keys(scenarios).join(', '));
    process.exit(2);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  let page;
  try {
    page = await run(browser);
    check(page.problems.length === 0, 'no script errors or refused resources ' + JSON.stringify(page.problems));
  } catch (e) {
    console.error('FAILED ' + scenario + ': ' + (e && e.stack || e));
    for (const context of browser.contexts()) {
      for (const p of context.pages()) {
        const shot = path.join(outDir, 'failure-' + scenario + '.png');
        await p.screenshot({ path: shot, fullPage: true }).catch(() => {});
        console.error('page at failure: ' + shot + (p.problems ? ' problems: ' + JSON.stringify(p.problems) : ''));
      }
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
