// collections.js -- the collections page: every collection with its
// status, counts and vector config; one collection's full config, payload
// indexes and aliases.  Also the collection picker the other pages share.

import { api, collPath, toJson } from './api.js';
import { card, formatNumber, h, table } from './dom.js';

export async function collectionNames() {
  const r = await api('GET', '/collections');
  return r.collections.map((c) => c.name).sort();
}

// The vectors of a CollectionInfo config: [{name, size, distance}], name
// '' for the unnamed vector.
export function vectorsOf(info) {
  const v = (info.config && info.config.params && info.config.params.vectors) || {};
  if (typeof v.size === 'number') return [{ name: '', size: v.size, distance: v.distance }];
  return Object.keys(v).sort().map((name) => ({ name, size: v[name].size, distance: v[name].distance }));
}

function vectorText(info) {
  return vectorsOf(info).map((v) => `${v.name ? v.name + ': ' : ''}${v.size} × ${v.distance}`).join(', ') || '–';
}

// A toolbar select of the collections that switches page to #/<page>/<name>;
// resolves to the chosen name ('' if there is none).
export async function picker(container, page, current) {
  const names = await collectionNames();
  const chosen = names.includes(current) ? current : names[0] || '';
  const select = h('select', {
    id: 'collection-select',
    'aria-label': 'Collection',
    onchange: (ev) => { location.hash = `#/${page}/${encodeURIComponent(ev.target.value)}`; },
  }, names.map((n) => h('option', { value: n, selected: n === chosen }, n)));
  container.append(h('label', {}, 'Collection', select));
  if (!names.length) container.append(h('span', { class: 'muted' }, 'no collections yet'));
  return chosen;
}

function statusBadge(status) {
  return h('span', { class: status === 'green' ? 'badge' : 'badge warn' }, status || '?');
}

async function renderList(main) {
  main.append(h('h1', {}, 'Collections'));
  const names = await collectionNames();
  if (!names.length) {
    main.append(h('div', { class: 'empty' }, 'No collections yet. Create one with PUT /collections/{name}.'));
    return;
  }
  const infos = await Promise.all(names.map((n) => api('GET', collPath(n))));
  const rows = names.map((name, i) => {
    const info = infos[i];
    const link = `#/collections/${encodeURIComponent(name)}`;
    return h('tr', {},
      h('td', {}, h('a', { href: link }, name)),
      h('td', {}, statusBadge(info.status)),
      h('td', { class: 'num' }, formatNumber(info.points_count)),
      h('td', { class: 'num' }, formatNumber(info.indexed_vectors_count)),
      h('td', {}, vectorText(info)),
      h('td', { class: 'num' }, formatNumber(Object.keys(info.payload_schema || {}).length)),
      h('td', {},
        h('a', { href: `#/points/${encodeURIComponent(name)}` }, 'points'), ' · ',
        h('a', { href: `#/search/${encodeURIComponent(name)}` }, 'search'), ' · ',
        h('a', { href: `#/snapshots/${encodeURIComponent(name)}` }, 'snapshots')));
  });
  main.append(table(['Name', 'Status', ['Points', 'num'], ['Indexed vectors', 'num'], 'Vectors',
    ['Payload indexes', 'num'], ''], rows));
}

function schemaTable(schema) {
  const fields = Object.keys(schema || {}).sort();
  if (!fields.length) return h('p', { class: 'muted' }, 'No payload indexes.');
  return table(['Field', 'Type', 'Params', ['Points', 'num']], fields.map((f) => {
    const s = schema[f];
    return h('tr', {}, h('td', { class: 'mono' }, f), h('td', {}, s.data_type),
      h('td', {}, s.params ? h('pre', {}, toJson(s.params)) : '–'),
      h('td', { class: 'num' }, formatNumber(s.points)));
  }));
}

async function renderOne(main, name) {
  const [info, aliases] = await Promise.all([
    api('GET', collPath(name)),
    api('GET', collPath(name, '/aliases')),
  ]);
  main.append(h('h1', {}, h('a', { href: '#/collections' }, 'Collections'), ' / ', name));
  main.append(h('div', { class: 'toolbar' },
    h('a', { href: `#/points/${encodeURIComponent(name)}` }, 'Browse points'),
    h('a', { href: `#/search/${encodeURIComponent(name)}` }, 'Search'),
    h('a', { href: `#/snapshots/${encodeURIComponent(name)}` }, 'Snapshots')));
  main.append(h('div', { class: 'cards' },
    card('status', statusBadge(info.status)),
    card('points', formatNumber(info.points_count)),
    card('indexed vectors', formatNumber(info.indexed_vectors_count)),
    card('segments', formatNumber(info.segments_count)),
    card('vectors', vectorText(info))));
  const names = (aliases.aliases || []).map((a) => a.alias_name);
  main.append(h('h2', {}, 'Aliases'), h('p', {}, names.length ? names.join(', ') : h('span', { class: 'muted' }, 'none')));
  main.append(h('h2', {}, 'Payload indexes'), schemaTable(info.payload_schema));
  main.append(h('h2', {}, 'Configuration'), h('pre', { class: 'block', id: 'collection-config' }, toJson(info.config, 2)));
}

export async function render(main, name) {
  if (name) await renderOne(main, name);
  else await renderList(main);
}
