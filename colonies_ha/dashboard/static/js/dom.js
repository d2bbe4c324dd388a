// Small DOM and formatting helpers.  Elements are built with createElement and text nodes
// (never innerHTML), so process arguments and names from the server cannot inject markup.

export const STATES = ['waiting', 'running', 'successful', 'failed'];
export const EXECUTOR_STATES = ['pending', 'approved', 'rejected'];
const ZERO_TIME = '0001-01-01T00:00:00Z';
const SVG_NS = 'http://www.w3.org/2000/svg';

/** An element: h('a', {href: '#/x', class: 'y'}, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

/** An SVG element, same calling convention as h(). */
export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A Date for an RFC 3339 time with up to nanoseconds, or null for the zero time. */
export function parseTime(text) {
  if (!text || text.startsWith('0001-01-01')) return null;
  const trimmed = text.replace(/(\.\d{3})\d+/, '$1');
  const date = new Date(trimmed);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "2024-05-01 12:00:03.120" in local time, or "—" for the zero time. */
export function formatTime(text) {
  const date = parseTime(text);
  if (!date) return '—';
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}`
  );
}

/** "3 s ago", "5 min ago", ... (or "never"). */
export function ago(text) {
  const date = parseTime(text);
  if (!date) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/** Milliseconds from `a` to `b` as "1.25 s", or "" when either is unset. */
export function duration(a, b) {
  const start = parseTime(a);
  const end = parseTime(b);
  if (!start || !end) return '';
  return `${((end - start) / 1000).toFixed(2)} s`;
}

export function isZeroTime(text) {
  return !text || text === ZERO_TIME || text.startsWith('0001-01-01');
}

export const short = (id) => (id ? `${id.slice(0, 10)}…` : '—');

/** A coloured badge for a process state number. */
export function stateBadge(state) {
  const name = STATES[state] ?? `state ${state}`;
  return h('span', { class: `badge state-${name}`, 'data-state': name }, name);
}

/** A definition-list-like table of label/value pairs. */
export function facts(pairs) {
  return h(
    'table',
    { class: 'facts' },
    pairs.map(([label, value]) => h('tr', {}, h('th', {}, label), h('td', {}, value))),
  );
}

/** A table with a header row; rows are arrays of cells (strings or nodes). */
export function table(headers, rows, attrs = {}) {
  return h(
    'table',
    { class: 'list', ...attrs },
    h('thead', {}, h('tr', {}, headers.map((name) => h('th', {}, name)))),
    h('tbody', {}, rows),
  );
}

/** Pretty JSON in a <pre>, for in/out/args. */
export function json(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}
