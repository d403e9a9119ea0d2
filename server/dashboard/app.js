// app.js -- the dashboard's shell: hash routes, the API-key dialog, the
// server line in the header.
//
// Pages are addressed as #/<page>[/<collection>] so every view can be
// bookmarked and reloaded: collections, points, search and snapshots take
// a collection; bench takes none.  Each page module exports
// render(main, collection) and draws into main; a page that fails shows
// the error in place of its content.

import { apiKey, onKeyNeeded, setApiKey } from './api.js';
import { errorBox } from './dom.js';
import * as bench from './bench.js';
import * as collections from './collections.js';
import * as points from './points.js';
import * as search from './search.js';
import * as snapshots from './snapshots.js';

const pages = { collections, points, search, snapshots, bench };
const main = document.getElementById('main');
let lastCollection = '';
let renderSeq = 0;

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const page = pages[parts[0]] ? parts[0] : 'collections';
  let coll = '';
  try {
    coll = parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : '';
  } catch (e) {
    coll = '';
  }
  return { page, coll };
}

function updateNav(page) {
  for (const a of document.querySelectorAll('#nav a')) {
    const p = a.dataset.page;
    a.classList.toggle('active', p === page);
    const takes = p !== 'bench' && p !== 'collections';
    a.href = takes && lastCollection ? `#/${p}/${encodeURIComponent(lastCollection)}` : `#/${p}`;
  }
}

async function route() {
  const { page, coll } = parseHash();
  if (coll) lastCollection = coll;
  updateNav(page);
  const seq = ++renderSeq;
  const view = document.createElement('div');
  main.replaceChildren(view);
  try {
    await pages[page].render(view, coll);
  } catch (err) {
    if (seq === renderSeq) view.append(errorBox(err));
  }
}

// ---- the API key ----------------------------------------------------------

const dialog = document.getElementById('key-dialog');
const input = document.getElementById('key-input');
const reason = document.getElementById('key-reason');
let answer = null;

function closeKey(given) {
  if (dialog.open) dialog.close();
  if (answer) {
    const a = answer;
    answer = null;
    a(given);
  }
}

function openKey(why) {
  reason.textContent = why || 'Enter the API key of this server.';
  input.value = apiKey();
  if (!dialog.open) dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    answer = resolve;
  });
}

document.getElementById('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setApiKey(input.value.trim());
  closeKey(true);
});
document.getElementById('key-cancel').addEventListener('click', () => closeKey(false));
document.getElementById('key-clear').addEventListener('click', () => {
  setApiKey('');
  input.value = '';
});
dialog.addEventListener('cancel', () => closeKey(false));
document.getElementById('key-button').addEventListener('click', async () => {
  if (await openKey('The key is sent as the api-key header with every call.')) route();
});

onKeyNeeded((msg) => openKey(`The server answered: ${msg}`));

// ---- start ------------------------------------------------------------------

async function serverInfo() {
  // GET / needs no key and says which version we speak.
  try {
    const res = await fetch('/');
    const j = await res.json();
    document.getElementById('server-info').textContent = `Qdrant API ${j.version}`;
  } catch (e) {
    document.getElementById('server-info').textContent = 'server unreachable';
  }
}

window.addEventListener('hashchange', route);
serverInfo();
route();
