// api.js -- the dashboard's only way to the server: Qdrant's public REST
// API through fetch, as any client would call it.
//
// The API key.  The dashboard's own files need no key (Qdrant serves its
// UI from a path its key check skips); the data does.  When a call answers
// 401 the page asks for the key (askKey, set by app.js), keeps it in
// localStorage and repeats the call with the `api-key` header, the header
// Qdrant's clients send.  One prompt serves every call waiting for it.
//
// Numbers.  Point ids are unsigned 64-bit integers, beyond what a JS
// number holds exactly.  Replies are parsed with a reviver that turns an
// integer too large for a double into a BigInt (read from its source
// text), and bodies are written with JSON.rawJSON for BigInts, so an id
// shown, paged through or searched by is the server's id to the last
// digit.  A browser without these (before Chromium 114) gets plain
// numbers: large ids then lose their last digits, nothing worse.

const KEY_ITEM = 'quiver.dashboard.api-key';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function apiKey() {
  return localStorage.getItem(KEY_ITEM) || '';
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_ITEM, key);
  else localStorage.removeItem(KEY_ITEM);
}

let askKey = null; // async (reason) => true when a new key was given
let pendingAsk = null;

export function onKeyNeeded(fn) {
  askKey = fn;
}

function askOnce(reason) {
  if (!pendingAsk) {
    pendingAsk = askKey(reason).finally(() => {
      pendingAsk = null;
    });
  }
  return pendingAsk;
}

function reviveBig(key, value, context) {
  if (typeof value === 'number' && Number.isInteger(value) &&
      !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

export function parseJson(text) {
  return JSON.parse(text, reviveBig);
}

export function toJson(value, space) {
  const raw = typeof JSON.rawJSON === 'function';
  return JSON.stringify(value, (k, v) => {
    if (typeof v !== 'bigint') return v;
    return raw ? JSON.rawJSON(v.toString()) : Number(v);
  }, space);
}

// Parses text typed by the user as JSON, exact for large integers; throws
// a SyntaxError that names the field.
export function parseUserJson(text, what) {
  try {
    return parseJson(text);
  } catch (e) {
    throw new SyntaxError(`${what} is not valid JSON: ${e.message}`);
  }
}

async function send(method, path, body) {
  const headers = {};
  const key = apiKey();
  if (key) headers['api-key'] = key;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = toJson(body);
  }
  return fetch(path, init);
}

// The error message of a failed reply: Qdrant's {"status":{"error":...}}
// envelope when there is one, else the status line.
async function errorOf(res) {
  const text = await res.text();
  try {
    const j = parseJson(text);
    if (j && j.status && typeof j.status.error === 'string') return j.status.error;
  } catch (e) {
    // not JSON: fall through
  }
  return text.trim() || `${res.status} ${res.statusText}`;
}

// Sends one request and returns its reply once the key question is
// settled: a 401 asks for a key (at most three times) and retries; a
// prompt the user cancels ends in the server's 401 as an ApiError.
async function request(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const res = await send(method, path, body);
    if (res.status !== 401 || !askKey || attempt === 3) return res;
    const msg = await errorOf(res);
    if (!(await askOnce(msg))) throw new ApiError(401, msg);
  }
}

// Calls the API; returns the envelope's result, throws ApiError with the
// server's message on failure.
export async function api(method, path, body) {
  const res = await request(method, path, body);
  if (!res.ok) throw new ApiError(res.status, await errorOf(res));
  const j = parseJson(await res.text());
  return j.result;
}

// A binary download (snapshots): the reply as a Blob.
export async function apiBlob(path) {
  const res = await request('GET', path);
  if (!res.ok) throw new ApiError(res.status, await errorOf(res));
  return res.blob();
}

export function collPath(name, rest = '') {
  return `/collections/${encodeURIComponent(name)}${rest}`;
}
