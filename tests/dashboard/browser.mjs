// browser.mjs -- the dashboard in headless Chromium against a real
// `quiver serve` with data: each page is loaded, used as a person would
// (the API-key prompt, paging, a search by id, by vector with a filter, a
// filter the server refuses, a snapshot created and downloaded, a bench
// CSV drawn), checked for the text it must show, screenshotted into
// DASHBOARD_SHOTS, and checked for console errors: any console.error, any
// uncaught exception, any CSP violation or other browser error fails the
// step, except the failed requests a step provokes on purpose (the 401s
// before the key is given, the 400 of a bad filter), which must match
// that step's list.
//
// Chromium is driven over the DevTools protocol with Node's WebSocket
// (node --experimental-websocket), so nothing beyond Debian's chromium
// and node is needed.  Waiting is polling the page for the condition a
// step expects; the timeout (QUIVER_TEST_TIMEOUT) is only a safety net.
// Run by run.sh, which starts the server and sets the environment.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const url = process.env.QUIVER_URL;
const key = process.env.QUIVER_API_KEY;
const roKey = process.env.QUIVER_READ_ONLY_KEY;
const shots = process.env.DASHBOARD_SHOTS;
const fixtures = process.env.DASHBOARD_FIXTURES;
const work = process.env.DASHBOARD_WORK;
const timeoutMs = 1000 * Number(process.env.QUIVER_TEST_TIMEOUT || 120);

// ---- the data -----------------------------------------------------------------

async function rest(method, path, body) {
  const res = await fetch(url + path, {
    method,
    headers: { 'api-key': key, 'Content-Type': 'application/json' },
    body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
  });
  const j = await res.json();
  assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(j)}`);
  return j.result;
}

const CITIES = ['Berlin', 'Paris', 'Lisbon'];

// docs: 30 points of 4 dimensions, cosine, payloads with a city (indexed)
// and, on point 7, markup that must be shown as text.
async function seed() {
  await rest('PUT', '/collections/docs', { vectors: { size: 4, distance: 'Cosine' } });
  const points = [];
  for (let i = 1; i <= 30; i++) {
    const a = i / 30;
    points.push({
      id: i,
      vector: [Math.cos(a * 3), Math.sin(a * 3), a, 1 - a],
      payload: { city: CITIES[i % 3], rank: i, text: i === 7 ? '<b>not bold</b>' : `document ${i}` },
    });
  }
  await rest('PUT', '/collections/docs/points?wait=true', { points });
  await rest('PUT', '/collections/docs/index?wait=true', { field_name: 'city', field_schema: 'keyword' });
  await rest('PUT', '/collections/multi', {
    vectors: { image: { size: 3, distance: 'Dot' }, text: { size: 2, distance: 'Euclid' } },
  });
  await rest('PUT', '/collections/multi/points?wait=true', {
    points: [1, 2, 3].map((i) => ({ id: i, vector: { image: [i, 0, 1], text: [0, i] }, payload: { n: i } })),
  });
  // Ids beyond a double's 53 bits, written as raw JSON text.
  await rest('PUT', '/collections/bigids', { vectors: { size: 2, distance: 'Dot' } });
  await rest('PUT', '/collections/bigids/points?wait=true', `{"points": [
    {"id": ${BIG[0]}, "vector": [1, 0], "payload": {"which": "max"}},
    {"id": ${BIG[1]}, "vector": [0.9, 0.1], "payload": {"which": "2^53+1"}}]}`);
}

const BIG = ['18446744073709551615', '9007199254740993'];

// ---- the DevTools protocol ------------------------------------------------------

function launch(profile) {
  const args = ['--headless=new', '--remote-debugging-port=0', `--user-data-dir=${profile}`,
    '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
    '--disable-extensions', '--disable-background-networking', '--disable-sync',
    '--disable-dev-shm-usage', 'about:blank'];
  const proc = spawn(process.env.CHROMIUM || '/usr/bin/chromium', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${err}`)), timeoutMs);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, ws: m[1] });
      }
    });
    proc.on('exit', (code) => reject(new Error(`chromium exited (${code}):\n${err}`)));
  });
}

class Cdp {
  constructor(ws) {
    this.ws = ws;
    this.seq = 0;
    this.pending = new Map();
    this.listeners = [];
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.id && this.pending.has(m.id)) {
        const { resolve, reject, method } = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result);
      } else {
        for (const l of this.listeners) l(m);
      }
    };
  }

  static open(wsUrl) {
    const ws = new WebSocket(wsUrl);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(new Cdp(ws));
      ws.onerror = () => reject(new Error(`cannot connect to ${wsUrl}`));
    });
  }

  send(method, params = {}, sessionId = undefined) {
    const id = ++this.seq;
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
  }
}

// ---- the page -------------------------------------------------------------------

let cdp;
let session;
const problems = [];
let allowed = []; // regexps of browser errors the current step provokes
let provoked = [];

function watch(m) {
  if (m.sessionId !== session) return;
  const p = m.params;
  if (m.method === 'Runtime.exceptionThrown') {
    problems.push(`uncaught exception: ${p.exceptionDetails.exception?.description || p.exceptionDetails.text}`);
  } else if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
    problems.push(`console.${p.type}: ${p.args.map((a) => a.value ?? a.description).join(' ')}`);
  } else if (m.method === 'Log.entryAdded' && p.entry.level === 'error') {
    const text = `${p.entry.source}: ${p.entry.text} ${p.entry.url || ''}`;
    if (allowed.some((re) => re.test(text))) provoked.push(text);
    else problems.push(text);
  }
}

async function evaluate(expression) {
  const r = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, session);
  if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
  return r.result.value;
}

const mainText = () => evaluate("document.querySelector('main').innerText");

async function waitFor(expression, what) {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    // Until the page has loaded, the expression may throw (no such
    // element yet, or the old document going away): not yet, not a failure.
    try {
      if (await evaluate(`Boolean(${expression})`)) return;
    } catch (err) {
      last = ` (last error: ${err.message})`;
    }
    if (Date.now() > end) {
      const shown = await mainText().catch(() => '?');
      throw new Error(`timed out waiting for ${what}${last}; the page shows:\n${shown}`);
    }
    await new Promise((r) => setTimeout(r, 50)); // a polling interval
  }
}

const hasText = (t) => `document.querySelector('main').innerText.includes(${JSON.stringify(t)})`;

async function waitText(...texts) {
  for (const t of texts) await waitFor(hasText(t), JSON.stringify(t));
}

async function setValue(selector, value) {
  await evaluate(`(() => { const el = document.querySelector(${JSON.stringify(selector)});
    el.value = ${JSON.stringify(value)};
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true })); })()`);
}

const click = (selector) => evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);

async function go(hash) {
  await evaluate(`location.hash = ${JSON.stringify(hash)}`);
}

let shotNo = 0;
async function screenshot(name) {
  const r = await cdp.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, session);
  const file = join(shots, `${String(++shotNo).padStart(2, '0')}-${name}.png`);
  writeFileSync(file, Buffer.from(r.data, 'base64'));
  return file;
}

// Runs one step; it fails on any browser error it did not provoke on
// purpose, and on a purposeful one that did not happen.
async function step(name, provokes, fn) {
  allowed = provokes;
  provoked = [];
  await fn();
  // Errors are reported asynchronously: wait until the provoked ones have
  // arrived, and make a round trip to the page so that others raised by
  // now arrive before the check (a later one fails the next step, or the
  // final check).
  const end = Date.now() + timeoutMs;
  for (const re of provokes) {
    while (!provoked.some((t) => re.test(t))) {
      assert.ok(Date.now() < end, `${name}: expected a browser error matching ${re}`);
      await new Promise((r) => setTimeout(r, 50)); // a polling interval
    }
  }
  await settle();
  const file = await screenshot(name);
  assert.deepEqual(problems, [], `${name}: browser errors`);
  console.log(`ok ${name} (${file})`);
}

const settle = () => evaluate('new Promise((r) => requestAnimationFrame(() => r(true)))');

// ---- the steps ------------------------------------------------------------------

async function run() {
  await step('api-key-prompt', [/status of 401.*\/collections/], async () => {
    await cdp.send('Page.navigate', { url: `${url}/dashboard#/collections` }, session);
    await waitFor("document.getElementById('key-dialog').open", 'the API-key dialog');
    await waitFor("document.getElementById('key-reason').textContent.includes('Must provide an API key')",
      "the server's reason in the dialog");
    // A wrong key first: the server refuses it and the dialog asks again.
    await setValue('#key-input', 'wrong-key');
    await evaluate("document.getElementById('key-form').requestSubmit()");
    await waitFor("document.getElementById('key-reason').textContent.includes('Invalid API key')",
      'the dialog again, with the refusal');
  });

  await step('collections', [], async () => {
    await setValue('#key-input', key);
    await evaluate("document.getElementById('key-form').requestSubmit()");
    await waitText('Collections', 'bigids', 'docs', 'multi', '4 × Cosine', 'image: 3 × Dot, text: 2 × Euclid');
    assert.equal(await evaluate("document.getElementById('key-dialog').open"), false);
    assert.equal(await evaluate("localStorage.getItem('quiver.dashboard.api-key')"), key);
    const row = await evaluate("[...document.querySelectorAll('tbody tr')].find((r) => r.innerText.startsWith('docs')).innerText");
    assert.match(row, /\b30\b/, 'docs has 30 points');
    assert.match(await evaluate("document.getElementById('server-info').textContent"), /Qdrant API 1\.19/);
  });

  await step('collection-docs', [], async () => {
    await go('#/collections/docs');
    await waitText('Payload indexes', 'Configuration', 'keyword');
    await waitFor("document.getElementById('collection-config')", 'the config');
    const config = JSON.parse(await evaluate("document.getElementById('collection-config').textContent"));
    assert.equal(config.params.vectors.size, 4);
    assert.equal(config.params.vectors.distance, 'Cosine');
  });

  await step('points', [], async () => {
    await go('#/points/docs');
    await waitText('points 1–10 of 30', 'Berlin', 'document 1');
    // Markup in a payload is text, never elements.
    await waitText('<b>not bold</b>');
    assert.equal(await evaluate("document.querySelector('#points-table b')"), null);
    await click('#next-page');
    await waitText('points 11–20 of 30', 'document 11');
    await click('#next-page');
    await waitText('points 21–30 of 30', 'document 30');
    assert.equal(await evaluate("document.getElementById('next-page').disabled"), true, 'the last page');
    await click('#prev-page');
    await waitText('points 11–20 of 30');
    await evaluate("document.getElementById('with-vectors').click()");
    await waitFor(hasText('Vector') + " && document.querySelector('#points-table').innerText.includes('(4)')",
      'the vectors column');
  });

  await step('search-by-id', [], async () => {
    await go('#/search/docs');
    await waitFor("document.getElementById('search-form')", 'the search form');
    await setValue('#query-input', '5');
    await setValue('#limit', '5');
    await click('#search-button');
    await waitText('5 results');
    const ids = await evaluate("[...document.querySelectorAll('#search-results tbody tr')].map((r) => r.cells[1].innerText)");
    assert.equal(ids.length, 5);
    assert.ok(!ids.includes('5'), 'the query point itself is left out');
    assert.ok(ids.includes('4') || ids.includes('6'), `its neighbours come first: ${ids}`);
  });

  await step('search-vector-filter', [], async () => {
    await click('#mode-vector');
    await setValue('#query-input', '[1, 0, 0.5, 0.5]');
    await setValue('#limit', '10');
    await setValue('#filter-input', '{"must": [{"key": "city", "match": {"value": "Berlin"}}]}');
    await click('#search-button');
    await waitText('10 results');
    const cities = await evaluate(
      "[...document.querySelectorAll('#search-results tbody tr')].map((r) => JSON.parse(r.cells[3].innerText).city)");
    assert.deepEqual([...new Set(cities)], ['Berlin']);
  });

  await step('search-server-error', [/status of 400.*\/points\/query/], async () => {
    await setValue('#filter-input', '{"must": [{"key": "city", "match": {"nope": 1}}]}');
    await click('#search-button');
    await waitFor("document.querySelector('#search-results .error')", 'the error box');
    await waitText('400: Format error in JSON body', 'unknown member');
  });

  await step('search-json-error', [], async () => {
    await setValue('#filter-input', '{"must": [');
    await click('#search-button');
    await waitText('The filter is not valid JSON');
  });

  await step('search-named-vectors', [], async () => {
    await go('#/search/multi');
    await waitFor("document.getElementById('using') && document.getElementById('using').options.length === 2",
      'the vector choice');
    await click('#mode-vector');
    await setValue('#using', 'image');
    await setValue('#query-input', '[1, 0, 0]');
    await click('#search-button');
    await waitText('3 results');
    const first = await evaluate("document.querySelector('#search-results tbody tr').cells[1].innerText");
    assert.equal(first, '3', 'the largest dot product first');
  });

  await step('big-ids', [], async () => {
    await go('#/points/bigids');
    await waitText(BIG[0], BIG[1]);
    await go('#/search/bigids');
    await waitFor("document.getElementById('search-form')", 'the search form');
    await setValue('#query-input', BIG[0]);
    await click('#search-button');
    await waitText('1 result');
    const ids = await evaluate("[...document.querySelectorAll('#search-results tbody tr')].map((r) => r.cells[1].innerText)");
    assert.deepEqual(ids, [BIG[1]], 'the other point, by its exact id');
  });

  await step('snapshots', [], async () => {
    await go('#/snapshots/docs');
    await waitText('No snapshots of this collection yet');
    await click('#create-snapshot');
    await waitText('Created docs-');
    await waitFor("document.querySelector('#snapshot-list tbody tr')", 'the snapshot in the list');
    const downloads = join(work, 'downloads');
    mkdirSync(downloads, { recursive: true });
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true });
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the download did not complete')), timeoutMs);
      cdp.listeners.push((m) => {
        if (m.method === 'Browser.downloadProgress' && m.params.state !== 'inProgress') {
          clearTimeout(timer);
          if (m.params.state === 'completed') resolve(m.params);
          else reject(new Error(`download ${m.params.state}`));
        }
      });
    });
    await click('#snapshot-list button.download');
    await done;
    const listed = (await rest('GET', '/collections/docs/snapshots'))[0];
    const files = readdirSync(downloads);
    assert.deepEqual(files, [listed.name]);
    assert.equal(statSync(join(downloads, files[0])).size, listed.size, 'the whole snapshot downloaded');
  });

  // The key button: a read-only key browses but may not create a
  // snapshot, and the page says so with the server's 403.
  const useKey = async (k) => {
    await click('#key-button');
    await waitFor("document.getElementById('key-dialog').open", 'the API-key dialog');
    await setValue('#key-input', k);
    await evaluate("document.getElementById('key-form').requestSubmit()");
  };
  await step('read-only-key', [/status of 403.*\/snapshots/], async () => {
    await useKey(roKey);
    await waitFor("localStorage.getItem('quiver.dashboard.api-key') === " + JSON.stringify(roKey), 'the new key');
    await waitFor("document.querySelector('#snapshot-list tbody tr')", 'the snapshot list, read with the read-only key');
    await click('#create-snapshot');
    await waitText('403: Forbidden');
  });

  await step('bench-chart', [], async () => {
    await useKey(key);
    await waitFor("localStorage.getItem('quiver.dashboard.api-key') === " + JSON.stringify(key), 'the key back');
    await go('#/bench');
    await waitFor("document.getElementById('csv-input')", 'the CSV input');
    // Through the file picker, as a person would choose the file.
    const { root } = await cdp.send('DOM.getDocument', {}, session);
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: '#csv-file' }, session);
    await cdp.send('DOM.setFileInputFiles', { nodeId, files: [join(fixtures, 'results.csv')] }, session);
    await waitFor("document.getElementById('bench-chart')", 'the chart');
    assert.equal(await evaluate("document.getElementById('csv-input').value"),
      readFileSync(join(fixtures, 'results.csv'), 'utf8'), 'the file shown in the text box');
    await waitText('15 rows, 14 drawn');
    assert.equal(await evaluate("document.querySelectorAll('#bench-chart circle.bench-point').length"), 14);
    assert.deepEqual(await evaluate("[...document.querySelectorAll('#bench-chart .bench-legend')].map((t) => t.textContent)"),
      ['quiver', 'hnswlib', 'faiss']);
    const title = await evaluate("document.querySelector('#bench-chart circle title').textContent");
    assert.match(title, /^quiver ef=16: recall 0\.8123, 41,250\.3 QPS$/);
    assert.match(await evaluate("document.getElementById('bench-chart').textContent"), /recall@10/);
  });

  await step('bench-bad-csv', [], async () => {
    await setValue('#csv-input', 'a,b\n1,2\n');
    await click('#draw-chart');
    await waitText('Not a quiver bench results.csv');
  });
}

async function main() {
  // The fixture is what `quiver bench` writes: its header is the contract.
  const header = readFileSync(join(fixtures, 'results.csv'), 'utf8').split('\n')[0];
  const source = readFileSync(join(fixtures, '../../bench/harness_report.c'), 'utf8');
  const contract = [...source.matchAll(/^\s+"([^"]*)"/gm)].map((m) => m[1]).join('');
  assert.ok(contract.startsWith(header), `results.csv header ${header} is not qvb_csv_header`);

  mkdirSync(shots, { recursive: true });
  for (const f of readdirSync(shots)) if (f.endsWith('.png')) rmSync(join(shots, f));
  await seed();
  const profile = mkdtempSync(join(work, 'chromium-'));
  const { proc, ws } = await launch(profile);
  try {
    cdp = await Cdp.open(ws);
    cdp.listeners.push(watch);
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    ({ sessionId: session } = await cdp.send('Target.attachToTarget', { targetId, flatten: true }));
    for (const d of ['Page', 'Runtime', 'Log']) await cdp.send(`${d}.enable`, {}, session);
    await cdp.send('Emulation.setDeviceMetricsOverride',
      { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false }, session);
    await run();
    allowed = [];
    await settle();
    assert.deepEqual(problems, [], 'browser errors after the last step');
  } finally {
    if (cdp) cdp.ws.close();
    proc.kill('SIGKILL');
  }
  console.log(`all dashboard pages passed; screenshots in ${shots}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
