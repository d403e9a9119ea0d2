// points.js -- the points browser: a collection's points in id order with
// their payloads (and vectors on request), a page at a time, through
// POST /points/scroll.  Scroll pages forward only (next_page_offset), so
// the page keeps the offsets of the pages it has shown to go back.

import { api, collPath, toJson } from './api.js';
import { errorBox, formatNumber, h, table } from './dom.js';
import { picker } from './collections.js';

// A vector shown as its first numbers and its length.
export function vectorSummary(v) {
  if (Array.isArray(v)) {
    const head = v.slice(0, 6).map((x) => (typeof x === 'number' ? x.toFixed(4) : String(x)));
    return `[${head.join(', ')}${v.length > 6 ? ', …' : ''}] (${v.length})`;
  }
  if (v && typeof v === 'object') {
    return Object.keys(v).sort().map((k) => `${k}: ${vectorSummary(v[k])}`).join('\n');
  }
  return '–';
}

export function payloadCell(payload) {
  if (!payload || !Object.keys(payload).length) return h('span', { class: 'muted' }, '{}');
  return h('pre', {}, toJson(payload, 2));
}

export async function render(main, current) {
  main.append(h('h1', {}, 'Points'));
  const bar = h('div', { class: 'toolbar' });
  main.append(bar);
  const name = await picker(bar, 'points', current);
  if (!name) return;

  const size = h('select', { id: 'page-size', 'aria-label': 'Page size' },
    [10, 25, 50, 100].map((n) => h('option', { value: n, selected: n === 10 }, `${n} a page`)));
  const withVec = h('input', { type: 'checkbox', id: 'with-vectors' });
  const prev = h('button', { type: 'button', id: 'prev-page' }, '← Previous');
  const next = h('button', { type: 'button', id: 'next-page' }, 'Next →');
  const where = h('span', { class: 'muted grow', id: 'page-info' });
  bar.append(size, h('label', {}, withVec, 'vectors'), h('span', { class: 'grow' }), where, prev, next);
  const out = h('div', { id: 'points-table' });
  main.append(out);

  let total = null;
  const offsets = [null]; // offsets[i]: where page i starts
  let page = 0;
  let nextOffset = null;

  async function load() {
    prev.disabled = next.disabled = true;
    const body = { limit: Number(size.value), with_payload: true, with_vector: withVec.checked };
    if (offsets[page] !== null) body.offset = offsets[page];
    try {
      if (total === null) total = (await api('POST', collPath(name, '/points/count'), { exact: true })).count;
      const r = await api('POST', collPath(name, '/points/scroll'), body);
      nextOffset = r.next_page_offset === undefined ? null : r.next_page_offset;
      const first = page * Number(size.value);
      where.textContent = r.points.length
        ? `points ${formatNumber(first + 1)}–${formatNumber(first + r.points.length)} of ${formatNumber(total)}`
        : `no points (${formatNumber(total)} in the collection)`;
      const headers = [['Id', 'mono'], 'Payload'];
      if (body.with_vector) headers.push('Vector');
      out.replaceChildren(table(headers, r.points.map((p) => h('tr', {},
        h('td', { class: 'mono' }, String(p.id)),
        h('td', {}, payloadCell(p.payload)),
        body.with_vector ? h('td', {}, h('pre', {}, vectorSummary(p.vector))) : null))));
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
    prev.disabled = page === 0;
    next.disabled = nextOffset === null;
  }

  prev.addEventListener('click', () => { page--; load(); });
  next.addEventListener('click', () => {
    offsets[page + 1] = nextOffset;
    page++;
    load();
  });
  const restart = () => {
    offsets.length = 1;
    page = 0;
    load();
  };
  size.addEventListener('change', restart);
  withVec.addEventListener('change', load);
  await load();
}
