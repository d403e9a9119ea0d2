// assets.mjs -- every file of server/dashboard/ is served by `quiver serve`
// at /dashboard/<file>, byte for byte, with the Content-Type of its kind,
// a strong ETag honoured by If-None-Match, Cache-Control: no-cache and
// the security headers, and without the API key (Qdrant serves its UI
// outside its key check), while the API itself still wants the key.
// Run by run.sh, which starts the server and sets the environment.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const url = process.env.QUIVER_URL;
const key = process.env.QUIVER_API_KEY;
const src = process.env.DASHBOARD_SRC;

// What each kind of file must be served as; a new kind needs a row here
// and in server/dashboard.c's table.
const TYPES = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

const files = readdirSync(src).sort();

function expectedType(name) {
  const ext = name.split('.').pop();
  assert.ok(TYPES[ext], `${name}: no Content-Type expected for .${ext} files`);
  return TYPES[ext];
}

function checkHeaders(res, name) {
  assert.equal(res.headers.get('cache-control'), 'no-cache', name);
  assert.equal(res.headers.get('x-frame-options'), 'DENY', name);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', name);
  assert.match(res.headers.get('content-security-policy'), /default-src 'self'/, name);
  assert.match(res.headers.get('etag'), /^"[0-9a-f]{16}"$/, `${name}: a strong ETag`);
}

test('the dashboard has files to serve', () => {
  assert.ok(files.includes('index.html'));
  assert.ok(files.length >= 5, files.join(' '));
});

test('every file is served, without a key, with its type and headers', async () => {
  const etags = new Set();
  for (const name of files) {
    const res = await fetch(`${url}/dashboard/${name}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get('content-type'), expectedType(name), name);
    checkHeaders(res, name);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(readFileSync(join(src, name))), `${name}: the bytes of the source file`);
    etags.add(res.headers.get('etag'));
  }
  assert.equal(etags.size, files.length, 'each file its own ETag');
});

test('/dashboard and /dashboard/ are index.html', async () => {
  const index = readFileSync(join(src, 'index.html'));
  for (const path of ['/dashboard', '/dashboard/']) {
    const res = await fetch(url + path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), TYPES.html, path);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(index), path);
  }
});

test('If-None-Match answers 304 for the current tag only', async () => {
  const first = await fetch(`${url}/dashboard/app.js`);
  const tag = first.headers.get('etag');
  await first.arrayBuffer();
  for (const inm of [tag, `W/${tag}`, `"0000000000000000", ${tag}`, '*']) {
    const res = await fetch(`${url}/dashboard/app.js`, { headers: { 'If-None-Match': inm } });
    assert.equal(res.status, 304, inm);
    assert.equal(res.headers.get('etag'), tag, inm);
    assert.equal((await res.arrayBuffer()).byteLength, 0, inm);
  }
  const res = await fetch(`${url}/dashboard/app.js`, { headers: { 'If-None-Match': '"0000000000000000"' } });
  assert.equal(res.status, 200);
  assert.ok((await res.arrayBuffer()).byteLength > 0);
});

test('HEAD has the headers and no body', async () => {
  const res = await fetch(`${url}/dashboard/app.css`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), TYPES.css);
  checkHeaders(res, 'HEAD app.css');
});

test('unknown files are 404, other methods 405', async () => {
  for (const path of ['/dashboard/nope.js', '/dashboard/..%2Findex.html']) {
    const res = await fetch(url + path);
    assert.equal(res.status, 404, path);
    await res.arrayBuffer();
  }
  // As for any path the router has no route for with this method, the
  // key is checked first (http.c); with it, the answer is 405.
  const res = await fetch(`${url}/dashboard/app.js`, { method: 'POST', body: '{}', headers: { 'api-key': key } });
  assert.equal(res.status, 405);
});

test('every file a page refers to is served', async () => {
  const refs = new Set();
  for (const name of files) {
    const text = readFileSync(join(src, name), 'utf8');
    for (const m of text.matchAll(/(?:href|src)="\/dashboard\/([^"#?]+)"/g)) refs.add(m[1]);
    for (const m of text.matchAll(/from '\.\/([^']+)'/g)) refs.add(m[1]);
  }
  assert.ok(refs.size >= 5, [...refs].join(' '));
  for (const ref of refs) assert.ok(files.includes(ref), `${ref} is referred to but not a dashboard file`);
});

test('the API behind the dashboard still needs the key', async () => {
  const without = await fetch(`${url}/collections`);
  assert.equal(without.status, 401);
  await without.arrayBuffer();
  const withKey = await fetch(`${url}/collections`, { headers: { 'api-key': key } });
  assert.equal(withKey.status, 200);
  assert.equal((await withKey.json()).status, 'ok');
});
