// bench.js -- the recall/QPS chart of a `quiver bench` results.csv, drawn
// in the browser as SVG: the same chart bench/plot_svg.c writes (recall@k
// on x from the lowest tenth measured to 1, queries per second on a log
// scale on y over whole decades, one line per engine through its ef sweep,
// a tooltip on every point), with the rows in a table below.
//
// The CSV is bench/README.md's contract (bench/harness_report.c,
// qvb_csv_header): a header line, one row per engine and ef, an empty
// field for what was not measured.  Rows without recall or QPS are listed
// but not drawn.  Nothing is sent to the server: the file stays in the
// browser.

import { errorBox, h, svg, table } from './dom.js';

export const CSV_COLUMNS = ['engine', 'dataset', 'n', 'dim', 'metric', 'm', 'ef_construct', 'ef', 'k',
  'recall', 'qps', 'p50_us', 'p99_us', 'build_s', 'build_threads', 'index_mb'];
const NUMERIC = new Set(CSV_COLUMNS.slice(2).filter((c) => c !== 'metric'));
const REQUIRED = ['engine', 'recall', 'qps'];

// Splits one CSV line; fields may be quoted ("a,b", "" for a quote).
function splitLine(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

// Rows as objects, numbers parsed (NaN where empty); throws an Error that
// says what is wrong with the file.
export function parseCsv(text) {
  const lines = text.replace(/\r/g, '').split('\n').filter((l) => l.trim() !== '');
  if (!lines.length) throw new Error('The CSV is empty.');
  const header = splitLine(lines[0]).map((s) => s.trim());
  const missing = REQUIRED.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new Error(`Not a quiver bench results.csv: no ${missing.join(', ')} column (expected the header ${CSV_COLUMNS.join(',')}).`);
  }
  return lines.slice(1).map((line, i) => {
    const f = splitLine(line);
    if (f.length !== header.length) throw new Error(`Line ${i + 2} has ${f.length} fields, the header ${header.length}.`);
    const row = {};
    header.forEach((col, j) => {
      const v = f[j].trim();
      row[col] = NUMERIC.has(col) ? (v === '' ? NaN : Number(v)) : v;
    });
    return row;
  });
}

// bench/plot_svg.c's canvas and colours, so the two charts compare.
const W = 860, H = 540, ML = 80, MR = 190, MT = 56, MB = 62;
const PALETTE = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const KNOWN = { quiver: PALETTE[0], hnswlib: PALETTE[1], faiss: PALETTE[2] };

function usable(r) {
  return Number.isFinite(r.recall) && Number.isFinite(r.qps) && r.qps > 0;
}

// Series: one per engine, or per engine and dataset when the file has
// several datasets; each sorted by ef (then recall).
function seriesOf(rows) {
  const datasets = new Set(rows.map((r) => r.dataset));
  const byKey = new Map();
  for (const r of rows.filter(usable)) {
    const key = datasets.size > 1 ? `${r.engine} / ${r.dataset}` : r.engine;
    if (!byKey.has(key)) byKey.set(key, { name: key, engine: r.engine, rows: [] });
    byKey.get(key).rows.push(r);
  }
  const list = [...byKey.values()];
  list.forEach((s, i) => {
    s.rows.sort((a, b) => (a.ef - b.ef) || (a.recall - b.recall));
    s.colour = KNOWN[s.engine] && datasets.size === 1 ? KNOWN[s.engine] : PALETTE[(3 + i) % PALETTE.length];
  });
  return list;
}

function frameOf(rows) {
  const ok = rows.filter(usable);
  let x0 = Math.min(1, ...ok.map((r) => r.recall));
  x0 = Math.max(0, Math.min(0.9, Math.floor(x0 * 10 - 1e-9) / 10));
  const qs = ok.map((r) => r.qps);
  const qmin = qs.length ? Math.min(...qs) : 1;
  const qmax = qs.length ? Math.max(...qs) : 10;
  const ly0 = Math.floor(Math.log10(qmin));
  let ly1 = Math.ceil(Math.log10(qmax));
  if (ly1 <= ly0) ly1 = ly0 + 1;
  const f = { x0, x1: 1, ly0, ly1, left: ML, right: W - MR, top: MT, bottom: H - MB };
  f.px = (r) => ML + ((r - f.x0) / (f.x1 - f.x0)) * (W - ML - MR);
  f.py = (q) => H - MB - ((Math.log10(q) - f.ly0) / (f.ly1 - f.ly0)) * (H - MT - MB);
  return f;
}

function grid(f) {
  const out = [];
  for (let d = f.ly0; d <= f.ly1; d++) {
    for (let m = 1; m <= 9; m++) {
      const q = 10 ** d * m;
      if (Math.log10(q) > f.ly1 + 1e-9) break;
      const y = f.py(q);
      out.push(svg('line', { x1: f.left, y1: y, x2: f.right, y2: y, stroke: m === 1 ? '#bbb' : '#eee' }));
      if (m === 1) out.push(svg('text', { x: f.left - 6, y: y + 4, 'font-size': 12, 'text-anchor': 'end' }, q.toLocaleString('en-US')));
    }
  }
  const step = f.x1 - f.x0 > 0.31 ? 0.1 : 0.05;
  for (let x = f.x0; x <= f.x1 + 1e-9; x += step) {
    const X = f.px(x);
    out.push(svg('line', { x1: X, y1: f.top, x2: X, y2: f.bottom, stroke: '#ddd' }));
    out.push(svg('text', { x: X, y: f.bottom + 18, 'font-size': 12, 'text-anchor': 'middle' }, x.toFixed(2)));
  }
  return out;
}

function titleOf(rows) {
  const r = rows[0] || {};
  const datasets = [...new Set(rows.map((x) => x.dataset))];
  const sub = [Number.isFinite(r.n) ? `n=${r.n}` : null, Number.isFinite(r.dim) ? `dim=${r.dim}` : null, r.metric || null,
    Number.isFinite(r.m) ? `M=${r.m}` : null, Number.isFinite(r.ef_construct) ? `ef_construct=${r.ef_construct}` : null]
    .filter(Boolean).join(', ');
  return [`Recall / QPS: ${datasets.join(', ')}`, sub];
}

export function chart(rows) {
  const f = frameOf(rows);
  const series = seriesOf(rows);
  const k = rows.find((r) => Number.isFinite(r.k));
  const [title, sub] = titleOf(rows);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': title,
    'font-family': 'DejaVu Sans, Helvetica, Arial, sans-serif', id: 'bench-chart' },
  svg('rect', { width: W, height: H, fill: 'white' }),
  svg('text', { x: ML, y: 24, 'font-size': 16, 'font-weight': 'bold' }, title),
  svg('text', { x: ML, y: 42, 'font-size': 12, fill: '#444' }, sub),
  grid(f),
  svg('rect', { x: f.left, y: f.top, width: f.right - f.left, height: f.bottom - f.top, fill: 'none', stroke: '#333' }),
  svg('text', { x: (f.left + f.right) / 2, y: H - 18, 'font-size': 13, 'text-anchor': 'middle' }, `recall@${k ? k.k : 'k'}`),
  svg('text', { transform: `translate(20,${(f.top + f.bottom) / 2}) rotate(-90)`, 'font-size': 13, 'text-anchor': 'middle' },
    'queries per second (log scale)'));
  series.forEach((s, i) => {
    const pts = s.rows.map((r) => `${f.px(r.recall).toFixed(1)},${f.py(r.qps).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { points: pts, fill: 'none', stroke: s.colour, 'stroke-width': 2 }));
    for (const r of s.rows) {
      root.append(svg('circle', { cx: f.px(r.recall), cy: f.py(r.qps), r: 4, fill: s.colour, class: 'bench-point' },
        svg('title', {}, `${s.name} ef=${r.ef}: recall ${r.recall.toFixed(4)}, ${r.qps.toLocaleString('en-US')} QPS`)));
    }
    const ly = MT + 10 + i * 22;
    root.append(svg('line', { x1: W - MR + 20, y1: ly, x2: W - MR + 44, y2: ly, stroke: s.colour, 'stroke-width': 2 }));
    root.append(svg('text', { x: W - MR + 50, y: ly + 4, 'font-size': 12, class: 'bench-legend' }, s.name));
  });
  return root;
}

function rowsTable(rows) {
  const cols = ['engine', 'dataset', 'ef', 'k', 'recall', 'qps', 'p50_us', 'p99_us', 'build_s', 'index_mb'];
  const fmt = (v) => (typeof v !== 'number' ? v : Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: 4 }) : '–');
  return table(cols.map((c) => (c === 'engine' || c === 'dataset' ? c : [c, 'num'])), rows.map((r) => h('tr', {},
    cols.map((c) => h('td', { class: c === 'engine' || c === 'dataset' ? undefined : 'num' }, fmt(r[c]))))));
}

export async function render(main) {
  main.append(h('h1', {}, 'Benchmark'));
  main.append(h('p', { class: 'muted' },
    'The recall / QPS chart of a ', h('code', {}, 'quiver bench'), ' results.csv. The file is read here, in the browser.'));
  const file = h('input', { type: 'file', id: 'csv-file', accept: '.csv,text/csv' });
  const paste = h('textarea', { id: 'csv-input', rows: 6, spellcheck: false, placeholder: `or paste the CSV here: ${CSV_COLUMNS.join(',')}` });
  const draw = h('button', { type: 'button', class: 'primary', id: 'draw-chart' }, 'Draw');
  const out = h('div', { id: 'bench-output' });
  main.append(h('div', { class: 'panel' }, h('div', { class: 'toolbar' }, h('label', {}, 'results.csv', file)), paste,
    h('div', { class: 'toolbar' }, draw)), out);

  const show = (text) => {
    try {
      const rows = parseCsv(text);
      const drawn = rows.filter(usable).length;
      out.replaceChildren(
        h('p', { class: 'note' }, `${rows.length} rows, ${drawn} drawn.`),
        h('div', { class: 'chart' }, chart(rows)),
        rowsTable(rows));
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  };
  draw.addEventListener('click', () => show(paste.value));
  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    const text = await file.files[0].text();
    paste.value = text;
    show(text);
  });
}
