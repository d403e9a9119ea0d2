// snapshots.js -- a collection's snapshots: list, create, download.
//
// A download is a GET that needs the API key in a header, which a plain
// link cannot send; the file is fetched with the key and handed to the
// browser as an object URL instead.

import { api, apiBlob, collPath } from './api.js';
import { errorBox, formatBytes, h, table } from './dom.js';
import { picker } from './collections.js';

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own copy once it started.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export async function render(main, current) {
  main.append(h('h1', {}, 'Snapshots'));
  const bar = h('div', { class: 'toolbar' });
  main.append(bar);
  const name = await picker(bar, 'snapshots', current);
  if (!name) return;
  const create = h('button', { type: 'button', class: 'primary', id: 'create-snapshot' }, 'Create snapshot');
  bar.append(h('span', { class: 'grow' }), create);
  const status = h('div', { id: 'snapshot-status' });
  const list = h('div', { id: 'snapshot-list' });
  main.append(status, list);

  async function download(snap, button) {
    button.disabled = true;
    try {
      saveBlob(await apiBlob(collPath(name, `/snapshots/${encodeURIComponent(snap)}`)), snap);
    } catch (err) {
      status.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  }

  async function refresh() {
    const snaps = await api('GET', collPath(name, '/snapshots'));
    snaps.sort((a, b) => String(b.creation_time).localeCompare(String(a.creation_time)));
    if (!snaps.length) {
      list.replaceChildren(h('div', { class: 'empty' }, 'No snapshots of this collection yet.'));
      return;
    }
    list.replaceChildren(table(['Name', 'Created', ['Size', 'num'], 'SHA-256', ''], snaps.map((s) => {
      const b = h('button', { type: 'button', class: 'download' }, 'Download');
      b.addEventListener('click', () => download(s.name, b));
      return h('tr', {}, h('td', { class: 'mono' }, s.name), h('td', {}, s.creation_time || '–'),
        h('td', { class: 'num' }, formatBytes(s.size)),
        h('td', { class: 'mono', title: s.checksum || '' }, s.checksum ? `${s.checksum.slice(0, 16)}…` : '–'),
        h('td', {}, b));
    })));
  }

  create.addEventListener('click', async () => {
    create.disabled = true;
    status.replaceChildren(h('p', { class: 'muted' }, 'Creating a snapshot…'));
    try {
      const s = await api('POST', collPath(name, '/snapshots?wait=true'));
      status.replaceChildren(h('p', { class: 'note' }, `Created ${s.name}`));
      await refresh();
    } catch (err) {
      status.replaceChildren(errorBox(err));
    } finally {
      create.disabled = false;
    }
  });
  await refresh();
}
