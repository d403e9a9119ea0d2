// dom.js -- building the page from data.  Every text from the server goes
// in through textContent (h() children), never as markup, so a payload
// that holds HTML is shown, not run.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k in el && !(el instanceof SVGElement)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('a', {href: '#'}, 'text', child, [more]) -> an element.
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function errorBox(err) {
  const status = err && err.status ? `${err.status}: ` : '';
  return h('div', { class: 'error', role: 'alert' }, status + (err && err.message ? err.message : String(err)));
}

export function table(headers, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((t) => {
      const [text, cls] = Array.isArray(t) ? t : [t, undefined];
      return h('th', { class: cls }, text);
    }))),
    h('tbody', {}, rows));
}

export function card(label, value) {
  return h('div', { class: 'card' }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
}

export function formatNumber(n) {
  if (n === undefined || n === null) return '–';
  if (typeof n === 'bigint') return n.toString();
  return Number(n).toLocaleString('en-US');
}

export function formatBytes(n) {
  if (typeof n !== 'number') return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
