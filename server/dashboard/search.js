// search.js -- nearest points by a point id or a vector given as JSON,
// through POST /points/query (Qdrant's universal query: "query" is a point
// id, whose vector is used and which is left out of the results, or a
// vector), with a filter written in Qdrant's filter language.  Input that
// is not JSON is refused here with the parser's message; everything else
// goes to the server, and its error message is shown as it answered.

import { api, collPath, parseUserJson, toJson } from './api.js';
import { errorBox, h, table } from './dom.js';
import { picker, vectorsOf } from './collections.js';
import { payloadCell } from './points.js';

const EXAMPLE_FILTER = '{\n  "must": [\n    { "key": "city", "match": { "value": "Berlin" } }\n  ]\n}';

// The query's "query" value: an id (unsigned integer or UUID string) or a
// vector (a JSON array of numbers).
export function parseQuery(mode, text) {
  const t = text.trim();
  if (!t) throw new SyntaxError(mode === 'id' ? 'Enter a point id.' : 'Enter a vector.');
  if (mode === 'id') {
    if (/^\d+$/.test(t)) return BigInt(t) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(t) : BigInt(t);
    if (/^"?[0-9a-fA-F-]{32,36}"?$/.test(t)) return t.replace(/"/g, '');
    throw new SyntaxError('A point id is an unsigned integer or a UUID.');
  }
  const v = parseUserJson(t, 'The vector');
  if (!Array.isArray(v)) throw new SyntaxError('The vector must be a JSON array of numbers.');
  return v;
}

export async function render(main, current) {
  main.append(h('h1', {}, 'Search'));
  const bar = h('div', { class: 'toolbar' });
  main.append(bar);
  const name = await picker(bar, 'search', current);
  if (!name) return;
  const info = await api('GET', collPath(name));
  const vectors = vectorsOf(info);

  const modeId = h('input', { type: 'radio', name: 'mode', value: 'id', id: 'mode-id', checked: true });
  const modeVec = h('input', { type: 'radio', name: 'mode', value: 'vector', id: 'mode-vector' });
  const query = h('textarea', { id: 'query-input', rows: 3, spellcheck: false, placeholder: 'a point id, e.g. 1' });
  const using = h('select', { id: 'using', 'aria-label': 'Vector' },
    vectors.map((v) => h('option', { value: v.name }, v.name ? `${v.name} (${v.size} × ${v.distance})` : `${v.size} × ${v.distance}`)));
  const limit = h('input', { type: 'number', id: 'limit', min: 1, max: 1000, value: 10 });
  const filter = h('textarea', { id: 'filter-input', rows: 8, spellcheck: false, placeholder: EXAMPLE_FILTER });
  const go = h('button', { type: 'submit', class: 'primary', id: 'search-button' }, 'Search');
  const out = h('div', { id: 'search-results' });
  const setPlaceholder = () => {
    query.placeholder = modeId.checked ? 'a point id, e.g. 1' : `a vector of ${vectors[0] ? vectors[0].size : 'n'} numbers, e.g. [0.1, 0.2, …]`;
  };
  modeId.addEventListener('change', setPlaceholder);
  modeVec.addEventListener('change', setPlaceholder);

  const form = h('form', { class: 'panel', id: 'search-form' },
    h('div', { class: 'grid2' },
      h('div', {},
        h('div', { class: 'toolbar' },
          h('label', {}, modeId, 'by point id'),
          h('label', {}, modeVec, 'by vector (JSON)'),
          vectors.length > 1 || (vectors[0] && vectors[0].name) ? h('label', {}, 'using', using) : null,
          h('label', {}, 'limit', limit)),
        query,
        h('div', { class: 'toolbar' }, go)),
      h('div', {},
        h('label', { class: 'block', for: 'filter-input' }, 'Filter (Qdrant filter JSON, optional)'),
        filter)));
  main.append(form, out);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    go.disabled = true;
    out.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
    try {
      const mode = modeId.checked ? 'id' : 'vector';
      const body = { query: parseQuery(mode, query.value), limit: Number(limit.value) || 10, with_payload: true };
      if (filter.value.trim()) body.filter = parseUserJson(filter.value, 'The filter');
      if (using.value) body.using = using.value;
      const r = await api('POST', collPath(name, '/points/query'), body);
      const pts = r.points || [];
      out.replaceChildren(
        h('p', { class: 'note' }, `${pts.length} result${pts.length === 1 ? '' : 's'}`),
        table(['#', ['Id', 'mono'], ['Score', 'num'], 'Payload'], pts.map((p, i) => h('tr', {},
          h('td', {}, String(i + 1)), h('td', { class: 'mono' }, String(p.id)),
          h('td', { class: 'num' }, typeof p.score === 'number' ? p.score.toFixed(4) : toJson(p.score)),
          h('td', {}, payloadCell(p.payload))))));
    } catch (err) {
      out.replaceChildren(errorBox(err));
    } finally {
      go.disabled = false;
    }
  });
}
