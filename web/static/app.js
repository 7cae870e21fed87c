// swarm's page. It speaks the Transmission RPC at ./transmission/rpc and
// nothing else: it shows what torrent-get, session-get and session-stats
// return and changes things through torrent-*, session-set and free-space.
// Plain JavaScript with no library and no build step (see web/doc.go).
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// ---- RPC ----------------------------------------------------------------

let sessionID = '';

// rpc calls one method and returns its arguments, or throws an Error whose
// message names the method and what went wrong. A 409 is the protocol's
// session-id handshake: take the id from the answer and send again.
async function rpc(method, args) {
  const body = JSON.stringify({ method, arguments: args || {} });
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await fetch('transmission/rpc', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Transmission-Session-Id': sessionID },
      body,
    });
    if (res.status === 409) {
      sessionID = res.headers.get('X-Transmission-Session-Id') || '';
      continue;
    }
    if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${res.statusText}`);
    const j = await res.json();
    if (j.result !== 'success') throw new Error(`${method}: ${j.result}`);
    return j.arguments || {};
  }
  throw new Error(`${method}: the server kept answering 409 without a usable session id`);
}

// ---- formatting -----------------------------------------------------------

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
function fmtBytes(n) {
  if (!(n >= 0)) return '–';
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) + ' ' + UNITS[i];
}
const fmtRate = (n) => (n > 0 ? fmtBytes(n) + '/s' : '');
const fmtRatio = (r) => (r < 0 ? '–' : r.toFixed(2)); // -1: nothing downloaded, -2: infinite
function fmtDuration(s) {
  if (s < 0) return '';
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}
// Intl formatters are slow to make: make them once.
const timeFmt = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat([], { month: 'short', day: 'numeric' });
const dateFmt = new Intl.DateTimeFormat([], { year: 'numeric', month: 'short', day: 'numeric' });
// fmtDate shows the time for today, the day for this year, else the date.
function fmtDate(t) {
  if (!t) return '';
  const d = new Date(t * 1000);
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  if (d >= today) return timeFmt.format(d);
  return d.getFullYear() === today.getFullYear() ? dayFmt.format(d) : dateFmt.format(d);
}
function fmtAgo(t) {
  if (!t) return 'never';
  const s = Math.round(Date.now() / 1000 - t);
  return s >= 0 ? fmtDuration(s) + ' ago' : 'in ' + fmtDuration(-s);
}

// Status codes of the protocol: 0 stopped, 1 queued to verify, 2 verifying,
// 3 queued to download, 4 downloading, 5 queued to seed, 6 seeding.
const STATUS = ['Paused', 'Queued to verify', 'Verifying', 'Queued', 'Downloading', 'Queued to seed', 'Seeding'];
const ERROR_KIND = ['', 'Tracker warning', 'Tracker error', 'Error'];
function statusText(t) {
  if (t.error) return `${ERROR_KIND[t.error] || 'Error'}: ${t.errorString}`;
  if (t.status === 0 && t.percentDone >= 1) return 'Paused (complete)';
  return STATUS[t.status] ?? `status ${t.status}`;
}
function statusClass(t) {
  if (t.error) return 'st-err';
  if (t.status === 0) return 'st-paused';
  return '';
}

// ---- state ----------------------------------------------------------------

// LIST_FIELDS is what the list needs; the detail asks for more.
const LIST_FIELDS = ['id', 'name', 'status', 'error', 'errorString', 'percentDone', 'sizeWhenDone',
  'leftUntilDone', 'rateDownload', 'rateUpload', 'uploadRatio', 'eta', 'peersConnected',
  'peersSendingToUs', 'peersGettingFromUs', 'addedDate', 'queuePosition', 'isFinished'];

const HISTORY = 300; // seconds of rate history kept for the charts

const state = {
  torrents: new Map(), // id → torrent as torrent-get last returned it
  order: [], // ids shown, filtered and sorted
  selected: new Set(),
  cursor: null, // id with keyboard focus
  anchor: null, // id where a shift-selection starts
  sort: { key: 'added', dir: -1 },
  filter: 'all',
  text: '',
  session: null, // session-get
  tick: 0, // seconds of history recorded
  history: new Map(), // id → {down: Float64Array, up: Float64Array}
  total: { down: new Float64Array(HISTORY), up: new Float64Array(HISTORY) },
  loaded: false,
  lastOK: 0, // Date.now() of the last refresh that worked
};

const FILTERS = {
  all: () => true,
  downloading: (t) => t.status === 3 || t.status === 4,
  seeding: (t) => t.status === 5 || t.status === 6,
  paused: (t) => t.status === 0,
  error: (t) => t.error !== 0,
};

// ---- columns ----------------------------------------------------------

// Each column: key to sort by, header text, how to render into its cell.
const COLUMNS = [
  { id: 'name', title: 'Name', key: (t) => t.name.toLowerCase() },
  { id: 'prog', title: 'Progress', key: (t) => t.percentDone },
  { id: 'size', title: 'Size', key: (t) => t.sizeWhenDone, num: true },
  { id: 'down', title: 'Down', key: (t) => t.rateDownload, num: true },
  { id: 'up', title: 'Up', key: (t) => t.rateUpload, num: true },
  { id: 'ratio', title: 'Ratio', key: (t) => t.uploadRatio, num: true },
  { id: 'peers', title: 'Peers', key: (t) => t.peersConnected, num: true, tip: 'seeds sending to us / peers we send to' },
  { id: 'eta', title: 'ETA', key: (t) => (t.eta < 0 ? Infinity : t.eta), num: true },
  { id: 'status', title: 'Status', key: (t) => (t.error ? -1 : t.status) },
  { id: 'added', title: 'Added', key: (t) => t.addedDate },
];
const COLUMN = Object.fromEntries(COLUMNS.map((c) => [c.id, c]));

function buildHead() {
  const head = $('head');
  head.append(el('span', 'c-chk'));
  const sel = $('sort-select');
  for (const c of COLUMNS) {
    const b = el('button', `c-${c.id}${c.num ? ' num' : ''}`, c.title);
    b.type = 'button';
    b.setAttribute('role', 'columnheader');
    b.dataset.sort = c.id;
    if (c.tip) b.title = c.tip;
    b.addEventListener('click', () => setSort(c.id));
    head.append(b);
    for (const dir of [1, -1]) {
      const o = el('option', '', `${c.title} ${dir > 0 ? '▲' : '▼'}`);
      o.value = `${c.id}:${dir}`;
      sel.append(o);
    }
  }
  sel.addEventListener('change', () => {
    const [id, dir] = sel.value.split(':');
    state.sort = { key: id, dir: Number(dir) };
    showSort();
    relist();
  });
  state.sort = { key: 'added', dir: -1 };
  showSort();
}

function setSort(id) {
  state.sort = state.sort.key === id ? { key: id, dir: -state.sort.dir } : { key: id, dir: id === 'name' ? 1 : -1 };
  showSort();
  relist();
}

function showSort() {
  for (const b of $('head').querySelectorAll('button')) {
    b.setAttribute('aria-sort', b.dataset.sort === state.sort.key ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  }
  $('sort-select').value = `${state.sort.key}:${state.sort.dir}`;
}

// ---- the list: only the visible rows exist -----------------------------

const viewport = $('viewport');
const spacer = $('spacer');
let rowH = 34;
const pool = []; // row elements, reused as the list scrolls

function measureRow() {
  rowH = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row-h')) || 34;
  // The header sits outside the scrolling viewport: leave room for its
  // scroll bar so the columns line up.
  $('head').style.paddingRight = 12 + viewport.offsetWidth - viewport.clientWidth + 'px';
}

function makeRow() {
  const r = el('div', 'row');
  r.setAttribute('role', 'row');
  const chk = el('input', 'c-chk');
  chk.type = 'checkbox';
  chk.tabIndex = -1;
  chk.setAttribute('aria-label', 'Select');
  r.append(chk);
  const cells = { chk };
  for (const c of COLUMNS) {
    const cell = el('span', `c-${c.id}${c.num ? ' num' : ''}`);
    cell.setAttribute('role', 'gridcell');
    if (c.id === 'prog') {
      cells.bar = el('span', 'bar');
      cells.fill = el('span', 'fill');
      cells.pct = el('span', 'pct');
      cells.bar.append(cells.fill);
      cell.append(cells.bar, cells.pct);
    }
    cells[c.id] = cell;
    r.append(cell);
  }
  r.cells = cells;
  r.shown = {}; // what each cell shows now, so unchanged cells are not touched
  return r;
}

// set changes a cell's text only when it differs: the browser then lays out
// only what changed.
function set(r, key, text) {
  if (r.shown[key] !== text) {
    r.shown[key] = text;
    r.cells[key].textContent = text;
  }
}

function fillRow(r, t, index) {
  if (r.shown.id !== t.id) {
    r.shown = { id: t.id };
    r.id = `t-${t.id}`;
    r.dataset.id = t.id;
  }
  const top = index * rowH + 'px';
  if (r.style.top !== top) r.style.top = top;
  if (r.shown.index !== index) { r.shown.index = index; r.setAttribute('aria-rowindex', index + 1); }
  const sel = state.selected.has(t.id);
  if (r.shown.sel !== sel) {
    r.shown.sel = sel;
    r.setAttribute('aria-selected', sel);
    r.cells.chk.checked = sel;
  }
  const cursor = state.cursor === t.id;
  if (r.shown.cursor !== cursor) { r.shown.cursor = cursor; r.classList.toggle('cursor', cursor); }
  set(r, 'name', t.name);
  if (r.shown.nameTip !== t.name) { r.shown.nameTip = t.name; r.cells.name.title = t.name; }
  const pct = Math.floor(t.percentDone * 1000) / 10;
  const width = pct + '%';
  if (r.shown.width !== width) { r.shown.width = width; r.cells.fill.style.width = width; }
  set(r, 'pct', pct.toFixed(pct < 100 ? 1 : 0) + '%');
  const barCls = 'bar' + (t.error ? ' err' : t.status === 0 ? ' paused' : t.percentDone >= 1 ? ' done' : '');
  if (r.shown.barCls !== barCls) { r.shown.barCls = barCls; r.cells.bar.className = barCls; }
  set(r, 'size', fmtBytes(t.sizeWhenDone));
  set(r, 'down', fmtRate(t.rateDownload));
  set(r, 'up', fmtRate(t.rateUpload));
  set(r, 'ratio', fmtRatio(t.uploadRatio));
  set(r, 'peers', t.peersConnected ? `${t.peersSendingToUs} / ${t.peersGettingFromUs}` : '');
  set(r, 'eta', t.percentDone < 1 && t.status === 4 ? fmtDuration(t.eta) : '');
  const st = statusText(t);
  set(r, 'status', st);
  if (r.shown.stTip !== st) { r.shown.stTip = st; r.cells.status.title = st; }
  const stCls = 'c-status ' + statusClass(t);
  if (r.shown.stCls !== stCls) { r.shown.stCls = stCls; r.cells.status.className = stCls; }
  set(r, 'added', fmtDate(t.addedDate));
}

// setAttr changes an attribute only when it differs: every change makes the
// browser recompute styles.
function setAttr(e, name, value) {
  if (e.getAttribute(name) !== value) e.setAttribute(name, value);
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  const n = state.order.length;
  const h = n * rowH + 'px';
  if (spacer.style.height !== h) spacer.style.height = h;
  setAttr(viewport, 'aria-rowcount', String(n));
  const first = Math.max(0, Math.floor(viewport.scrollTop / rowH) - 4);
  const last = Math.min(n, Math.ceil((viewport.scrollTop + viewport.clientHeight) / rowH) + 4);
  const need = last - first;
  while (pool.length < need) {
    const r = makeRow();
    pool.push(r);
    spacer.append(r);
  }
  for (let i = 0; i < pool.length; i++) {
    const r = pool[i];
    if (i < need) {
      if (r.hidden) r.hidden = false;
      fillRow(r, state.torrents.get(state.order[first + i]), first + i);
    } else if (!r.hidden) {
      r.hidden = true;
      r.shown.id = null;
    }
  }
  const empty = $('empty');
  const noRows = n === 0 && state.loaded;
  if (empty.hidden === noRows) empty.hidden = !noRows;
  const msg = state.torrents.size === 0 ? 'No torrents yet: add one with the Add button or drop a .torrent file here.' : 'No torrent matches the filter.';
  if (noRows && empty.textContent !== msg) empty.textContent = msg;
  setAttr(viewport, 'aria-activedescendant', state.cursor !== null && state.order.includes(state.cursor) ? `t-${state.cursor}` : '');
  if (!state.firstRender && state.loaded) {
    state.firstRender = true;
    performance.mark('swarm-first-render'); // time to first render, read by the tests
  }
}

// relist recomputes which torrents are shown and in what order.
function relist() {
  const f = FILTERS[state.filter];
  const text = state.text.toLowerCase();
  const key = COLUMN[state.sort.key].key;
  const dir = state.sort.dir;
  const shown = [];
  const counts = { all: 0, downloading: 0, seeding: 0, paused: 0, error: 0 };
  for (const t of state.torrents.values()) {
    for (const k in counts) if (FILTERS[k](t)) counts[k]++;
    if (f(t) && (!text || t.name.toLowerCase().includes(text))) shown.push(t);
  }
  const keys = new Map(shown.map((t) => [t.id, key(t)]));
  shown.sort((a, b) => {
    const ka = keys.get(a.id), kb = keys.get(b.id);
    return (ka < kb ? -dir : ka > kb ? dir : 0) || a.id - b.id;
  });
  state.order = shown.map((t) => t.id);
  for (const b of document.querySelectorAll('.filters button')) {
    const n = String(counts[b.dataset.filter]);
    const span = b.querySelector('.n');
    if (span.textContent !== n) span.textContent = n;
  }
  for (const id of state.selected) if (!state.torrents.has(id)) state.selected.delete(id);
  showSelection();
  render();
}

function showSelection() {
  const n = state.selected.size;
  const text = n ? `${n} selected` : '';
  if ($('sel-count').textContent !== text) $('sel-count').textContent = text;
  const off = n === 0 && state.cursor === null;
  for (const b of document.querySelectorAll('.actions button')) if (b.disabled !== off) b.disabled = off;
}

// targets are the torrents an action applies to: the selection, or the one
// under the keyboard cursor when nothing is selected.
function targets() {
  if (state.selected.size) return [...state.selected];
  return state.cursor !== null && state.torrents.has(state.cursor) ? [state.cursor] : [];
}

// ---- selection and keyboard ---------------------------------------------

function select(id, how) {
  if (how === 'toggle') {
    if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
    state.anchor = id;
  } else if (how === 'range' && state.anchor !== null) {
    const a = state.order.indexOf(state.anchor), b = state.order.indexOf(id);
    if (a >= 0 && b >= 0) {
      state.selected.clear();
      for (let i = Math.min(a, b); i <= Math.max(a, b); i++) state.selected.add(state.order[i]);
    }
  } else {
    state.selected.clear();
    state.selected.add(id);
    state.anchor = id;
  }
  state.cursor = id;
  showSelection();
  render();
}

function moveCursor(delta, how) {
  const n = state.order.length;
  if (!n) return;
  let i = state.order.indexOf(state.cursor);
  i = i < 0 ? 0 : Math.max(0, Math.min(n - 1, i + delta));
  const id = state.order[i];
  if (how === 'range') select(id, 'range');
  else { state.cursor = id; if (state.anchor === null || how !== 'keep') state.anchor = id; showSelection(); }
  // Keep the cursor row inside the viewport.
  const top = i * rowH;
  if (top < viewport.scrollTop) viewport.scrollTop = top;
  else if (top + rowH > viewport.scrollTop + viewport.clientHeight) viewport.scrollTop = top + rowH - viewport.clientHeight;
  render();
}

viewport.addEventListener('scroll', render, { passive: true });
viewport.addEventListener('click', (e) => {
  const r = e.target.closest('.row');
  if (!r) return;
  const id = Number(r.dataset.id);
  if (e.target === r.cells.chk || e.ctrlKey || e.metaKey) select(id, 'toggle');
  else if (e.shiftKey) select(id, 'range');
  else select(id, 'only');
  viewport.focus({ preventScroll: true });
});
viewport.addEventListener('dblclick', (e) => {
  const r = e.target.closest('.row');
  if (r && e.target !== r.cells.chk) openDetail(Number(r.dataset.id));
});
viewport.addEventListener('keydown', (e) => {
  const page = Math.max(1, Math.floor(viewport.clientHeight / rowH) - 1);
  const how = e.shiftKey ? 'range' : 'move';
  switch (e.key) {
    case 'ArrowDown': moveCursor(1, how); break;
    case 'ArrowUp': moveCursor(-1, how); break;
    case 'PageDown': moveCursor(page, how); break;
    case 'PageUp': moveCursor(-page, how); break;
    case 'Home': moveCursor(-Infinity, how); break;
    case 'End': moveCursor(Infinity, how); break;
    case ' ': if (state.cursor !== null) select(state.cursor, 'toggle'); break;
    case 'Enter': if (state.cursor !== null) openDetail(state.cursor); break;
    case 'Delete': case 'Backspace': act('remove'); break;
    case 'Escape': state.selected.clear(); showSelection(); render(); break;
    case 'a':
      if (!(e.ctrlKey || e.metaKey)) return;
      state.order.forEach((id) => state.selected.add(id));
      showSelection(); render();
      break;
    default: return;
  }
  e.preventDefault();
});

// Page-wide keys, when no field or dialog has them.
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || document.querySelector('dialog[open]')) return;
  if (e.target.closest('input, textarea, select')) return;
  const keys = { a: () => openAdd([]), s: () => openSession(), '/': () => $('search').focus(),
    p: () => act('stop'), r: () => act('start'), v: () => act('verify') };
  if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
});

for (const b of document.querySelectorAll('.filters button')) {
  b.addEventListener('click', () => {
    state.filter = b.dataset.filter;
    for (const o of document.querySelectorAll('.filters button')) o.setAttribute('aria-pressed', o === b);
    relist();
  });
}
$('search').addEventListener('input', (e) => { state.text = e.target.value; relist(); });
$('search').addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === 'ArrowDown') { e.preventDefault(); viewport.focus(); moveCursor(0, 'move'); } });

// ---- actions ---------------------------------------------------------------

for (const b of document.querySelectorAll('.actions button[data-act]')) {
  b.addEventListener('click', () => act(b.dataset.act));
}

async function act(what) {
  const ids = targets();
  if (!ids.length) return;
  if (what === 'details') return openDetail(ids[0]);
  if (what === 'remove') return openRemove(ids);
  try {
    await rpc(`torrent-${what}`, { ids });
  } catch (e) {
    showConn(e);
  }
  refreshSoon();
}

function openRemove(ids) {
  const d = $('remove-dlg');
  const names = ids.map((id) => state.torrents.get(id)?.name).filter(Boolean);
  $('remove-what').textContent = names.length === 1 ? `Remove “${names[0]}”?` : `Remove ${names.length} torrents?`;
  $('remove-data').checked = false;
  d.returnValue = '';
  d.onclose = async () => {
    if (d.returnValue !== 'remove') return;
    try {
      await rpc('torrent-remove', { ids, 'delete-local-data': $('remove-data').checked });
      ids.forEach((id) => { state.torrents.delete(id); state.history.delete(id); });
      relist();
    } catch (e) {
      showConn(e);
    }
    refreshSoon();
  };
  d.showModal();
  $('remove-ok').focus();
}

// ---- refresh -------------------------------------------------------------

let refreshTimer = 0;
let refreshing = false;

// refresh asks for every torrent the first time, then each second only for
// the recently active ones (the protocol's "recently-active"), which also
// names the removed ones.
async function refresh() {
  clearTimeout(refreshTimer);
  if (refreshing) return;
  refreshing = true;
  try {
    // "recently-active" names the torrents removed in the last minute or so;
    // after a longer gap (a sleeping laptop) only a full list is sure.
    const full = !state.loaded || Date.now() - state.lastOK > 30000;
    const [got, stats] = await Promise.all([
      rpc('torrent-get', full ? { fields: LIST_FIELDS } : { ids: 'recently-active', fields: LIST_FIELDS }),
      rpc('session-stats'),
    ]);
    state.lastOK = Date.now();
    if (full) state.torrents.clear();
    for (const t of got.torrents || []) state.torrents.set(t.id, t);
    for (const id of got.removed || []) { state.torrents.delete(id); state.history.delete(id); }
    state.loaded = true;
    record(stats);
    $('rate-down').textContent = fmtRate(stats.downloadSpeed) || '0 B/s';
    $('rate-up').textContent = fmtRate(stats.uploadSpeed) || '0 B/s';
    showConn(null);
    relist();
    if ($('session-dlg').open) showSessionStats(stats);
  } catch (e) {
    showConn(e);
  } finally {
    refreshing = false;
    // Hidden tabs refresh slowly: nobody is looking and phones save power.
    refreshTimer = setTimeout(refresh, document.hidden ? 10000 : 1000);
  }
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 150);
}
document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshSoon(); });

// record appends one second of rates to every torrent's history and the total.
function record(stats) {
  const i = state.tick % HISTORY;
  state.tick++;
  state.total.down[i] = stats.downloadSpeed || 0;
  state.total.up[i] = stats.uploadSpeed || 0;
  for (const t of state.torrents.values()) {
    let h = state.history.get(t.id);
    if (!h) {
      if (!t.rateDownload && !t.rateUpload) continue; // idle and never active: nothing to chart
      h = { down: new Float64Array(HISTORY), up: new Float64Array(HISTORY) };
      state.history.set(t.id, h);
    }
    h.down[i] = t.rateDownload;
    h.up[i] = t.rateUpload;
  }
}

function showConn(err) {
  const c = $('conn');
  c.hidden = !err;
  if (err) c.textContent = `Cannot reach the daemon: ${err.message}`;
}

// ---- charts -------------------------------------------------------------

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function drawChart(canvas, h) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, ht = canvas.clientHeight;
  if (!w) return;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(ht * dpr);
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, ht);
  const n = Math.min(state.tick, HISTORY);
  let max = 1024;
  for (let k = 0; k < n; k++) max = Math.max(max, h.down[k], h.up[k]);
  const pad = 16;
  g.fillStyle = css('--muted');
  g.font = '11px system-ui, sans-serif';
  g.fillText(fmtBytes(max) + '/s', 4, 11);
  for (const [series, color] of [[h.down, css('--down')], [h.up, css('--up')]]) {
    g.strokeStyle = color;
    g.lineWidth = 1.5;
    g.beginPath();
    for (let k = 0; k < n; k++) {
      const v = series[(state.tick - n + k) % HISTORY];
      const x = w - ((n - 1 - k) / (HISTORY - 1)) * w;
      const y = ht - 2 - (v / max) * (ht - pad - 2);
      if (k) g.lineTo(x, y); else g.moveTo(x, y);
    }
    g.stroke();
  }
}

// ---- detail -------------------------------------------------------------

const DETAIL_FIELDS = LIST_FIELDS.concat(['hashString', 'downloadDir', 'totalSize', 'uploadedEver',
  'downloadedEver', 'doneDate', 'activityDate', 'fileStats', 'peers', 'trackerStats', 'pieces',
  'pieceCount', 'pieceSize', 'seedRatioLimit', 'seedIdleLimit', 'labels']);

const detail = { id: null, timer: 0, files: null, pieces: null, tab: 'info' };

async function openDetail(id) {
  const d = $('detail-dlg');
  detail.id = id;
  detail.files = null;
  detail.pieces = null;
  $('files-body').replaceChildren();
  $('detail-title').textContent = state.torrents.get(id)?.name || `Torrent ${id}`;
  if (!d.open) d.showModal();
  showTab(detail.tab);
  await refreshDetail();
}

async function refreshDetail() {
  clearTimeout(detail.timer);
  const d = $('detail-dlg');
  if (!d.open || detail.id === null) return;
  const id = detail.id;
  try {
    // The file names never change: ask for them once.
    const fields = detail.files ? DETAIL_FIELDS : DETAIL_FIELDS.concat(['files']);
    const got = await rpc('torrent-get', { ids: [id], fields });
    if (id !== detail.id) return;
    const t = (got.torrents || [])[0];
    if (!t) {
      $('detail-title').textContent = 'This torrent was removed.';
      return;
    }
    if (t.files) detail.files = t.files;
    showDetail(t);
  } catch (e) {
    showConn(e);
  }
  detail.timer = setTimeout(refreshDetail, 1000);
}
$('detail-dlg').addEventListener('close', () => { clearTimeout(detail.timer); detail.id = null; viewport.focus({ preventScroll: true }); });

function facts(dl, rows) {
  // Rebuilt whole each second: a handful of nodes.
  const frag = document.createDocumentFragment();
  for (const [k, v, cls] of rows) {
    frag.append(el('dt', '', k));
    frag.append(el('dd', cls || '', v));
  }
  dl.replaceChildren(frag);
}

function showDetail(t) {
  $('detail-title').textContent = t.name;
  const limit = (v, unit) => (v > 0 ? v + unit : 'session default');
  facts($('detail-info'), [
    ['Status', statusText(t), t.error ? 'bad' : ''],
    ['Progress', `${(t.percentDone * 100).toFixed(1)}% of ${fmtBytes(t.sizeWhenDone)}` + (t.sizeWhenDone < t.totalSize ? ` (${fmtBytes(t.totalSize)} in all files)` : '')],
    ['Left', fmtBytes(t.leftUntilDone) + (t.eta >= 0 && t.status === 4 ? `, about ${fmtDuration(t.eta)}` : '')],
    ['Rates', `↓ ${fmtRate(t.rateDownload) || '0 B/s'}  ↑ ${fmtRate(t.rateUpload) || '0 B/s'}`],
    ['Transferred', `↓ ${fmtBytes(t.downloadedEver)}  ↑ ${fmtBytes(t.uploadedEver)}, ratio ${fmtRatio(t.uploadRatio)}`],
    ['Peers', `${t.peersConnected} connected: ${t.peersSendingToUs} sending to us, ${t.peersGettingFromUs} getting from us`],
    ['Pieces', `${t.pieceCount} × ${fmtBytes(t.pieceSize)}`],
    ['Folder', t.downloadDir],
    ['Info hash', t.hashString],
    ['Added', new Date(t.addedDate * 1000).toLocaleString()],
    ['Completed', t.doneDate ? new Date(t.doneDate * 1000).toLocaleString() : '–'],
    ['Last activity', fmtAgo(t.activityDate)],
    ['Seed limits', `ratio ${limit(t.seedRatioLimit, '')}, idle ${limit(t.seedIdleLimit, ' min')}`],
  ].concat(t.labels && t.labels.length ? [['Labels', t.labels.join(', ')]] : []));
  showFiles(t);
  showPeers(t);
  showTrackers(t);
  showPieces(t);
  drawChart($('detail-chart'), state.history.get(t.id) || { down: new Float64Array(HISTORY), up: new Float64Array(HISTORY) });
}

const PRIORITY = [[-1, 'Low'], [0, 'Normal'], [1, 'High']];

function showFiles(t) {
  const body = $('files-body');
  const files = detail.files || [];
  const stats = t.fileStats || [];
  if (body.children.length !== files.length) {
    // Built once per torrent, then updated in place.
    const frag = document.createDocumentFragment();
    files.forEach((f, i) => {
      const tr = el('tr');
      const get = el('input');
      get.type = 'checkbox';
      get.setAttribute('aria-label', `Download ${f.name}`);
      get.addEventListener('change', () => setFile(t.id, i, { [get.checked ? 'files-wanted' : 'files-unwanted']: [i] }));
      const pri = el('select');
      pri.setAttribute('aria-label', `Priority of ${f.name}`);
      for (const [v, name] of PRIORITY) { const o = el('option', '', name); o.value = v; pri.append(o); }
      pri.addEventListener('change', () => setFile(t.id, i, { [`priority-${{ '-1': 'low', 0: 'normal', 1: 'high' }[pri.value]}`]: [i] }));
      const tdGet = el('td'); tdGet.append(get);
      const tdPri = el('td'); tdPri.append(pri);
      tr.append(el('td', 'path', f.name), el('td', '', fmtBytes(f.length)), el('td'), tdGet, tdPri);
      tr.cells2 = { done: tr.children[2], get, pri };
      frag.append(tr);
    });
    body.replaceChildren(frag);
  }
  files.forEach((f, i) => {
    const s = stats[i];
    if (!s) return;
    const tr = body.children[i];
    const done = f.length ? `${Math.floor((s.bytesCompleted / f.length) * 1000) / 10}%` : '100%';
    if (tr.cells2.done.textContent !== done) tr.cells2.done.textContent = done;
    if (document.activeElement !== tr.cells2.get) tr.cells2.get.checked = s.wanted;
    if (document.activeElement !== tr.cells2.pri) tr.cells2.pri.value = String(s.priority);
  });
}

async function setFile(id, i, change) {
  try {
    await rpc('torrent-set', Object.assign({ ids: [id] }, change));
  } catch (e) {
    showConn(e);
  }
}

function showPeers(t) {
  const peers = t.peers || [];
  $('peers-none').hidden = peers.length > 0;
  const frag = document.createDocumentFragment();
  for (const p of peers) {
    const tr = el('tr');
    const addr = p.address.includes(':') ? `[${p.address}]:${p.port}` : `${p.address}:${p.port}`;
    tr.append(el('td', '', addr), el('td', '', p.clientName || '?'), el('td', '', p.flagStr),
      el('td', '', fmtRate(p.rateToClient)), el('td', '', fmtRate(p.rateToPeer)),
      el('td', '', `${Math.floor(p.progress * 1000) / 10}%`));
    frag.append(tr);
  }
  $('peers-body').replaceChildren(frag);
}

function showTrackers(t) {
  const trackers = t.trackerStats || [];
  $('trackers-none').hidden = trackers.length > 0;
  const frag = document.createDocumentFragment();
  for (const k of trackers) {
    const tr = el('tr');
    let last = 'not yet';
    if (k.hasAnnounced) last = `${fmtAgo(k.lastAnnounceTime)}: ${k.lastAnnounceSucceeded ? `ok, ${k.lastAnnouncePeerCount} peer${k.lastAnnouncePeerCount === 1 ? '' : 's'}` : k.lastAnnounceResult}`;
    const next = k.nextAnnounceTime > 0 ? fmtAgo(k.nextAnnounceTime) : '–';
    const count = (n) => (n >= 0 ? String(n) : '–');
    tr.append(el('td', 'path', k.announce), el('td', k.hasAnnounced && !k.lastAnnounceSucceeded ? 'bad' : '', last),
      el('td', '', next), el('td', '', count(k.seederCount)), el('td', '', count(k.leecherCount)));
    frag.append(tr);
  }
  $('trackers-body').replaceChildren(frag);
}

function decodeBits(b64) {
  const s = atob(b64 || '');
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// showPieces draws one cell per piece, or per group of pieces when there are
// more than fit: a group's shade is the share of its pieces we have.
function showPieces(t) {
  const bits = decodeBits(t.pieces);
  const prev = detail.pieces;
  detail.pieces = bits;
  const n = t.pieceCount || 0;
  let have = 0;
  for (let i = 0; i < n; i++) if (bits[i >> 3] & (0x80 >> (i & 7))) have++;
  $('pieces-sum').textContent = `${have} of ${n} pieces (${fmtBytes(t.pieceSize)} each)`;
  const canvas = $('pieces-map');
  const w = canvas.clientWidth;
  if (!w || !n) return;
  // Cells as large as fit in about 240 px of height, 4 to 24 px each.
  const cell = Math.max(4, Math.min(24, Math.floor(Math.sqrt((w * 240) / n))));
  const cols = Math.max(1, Math.floor(w / cell));
  const cells = Math.min(n, cols * Math.floor(240 / cell));
  const per = n / cells;
  const rows = Math.ceil(cells / cols);
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  canvas.style.height = canvas.height * (w / canvas.width) + 'px';
  const g = canvas.getContext('2d');
  const cHave = css('--have'), cFresh = css('--fresh'), cMiss = css('--miss');
  for (let c = 0; c < cells; c++) {
    const from = Math.floor(c * per), to = Math.max(from + 1, Math.floor((c + 1) * per));
    let got = 0, fresh = false;
    for (let i = from; i < to; i++) {
      const m = 0x80 >> (i & 7);
      if (bits[i >> 3] & m) {
        got++;
        if (prev && !(prev[i >> 3] & m)) fresh = true;
      }
    }
    const x = (c % cols) * cell, y = Math.floor(c / cols) * cell;
    g.fillStyle = cMiss;
    g.fillRect(x, y, cell - 1, cell - 1);
    if (got) {
      g.globalAlpha = 0.25 + 0.75 * (got / (to - from));
      g.fillStyle = fresh ? cFresh : cHave;
      g.fillRect(x, y, cell - 1, cell - 1);
      g.globalAlpha = 1;
    }
  }
}

function showTab(name) {
  detail.tab = name;
  for (const tab of document.querySelectorAll('#detail-dlg [role=tab]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', on);
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
  }
}
const tabs = [...document.querySelectorAll('#detail-dlg [role=tab]')];
for (const tab of tabs) {
  tab.addEventListener('click', () => { showTab(tab.id.slice(4)); refreshDetail(); });
  tab.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(tab);
    const j = e.key === 'ArrowRight' ? (i + 1) % tabs.length : e.key === 'ArrowLeft' ? (i + tabs.length - 1) % tabs.length : -1;
    if (j < 0) return;
    e.preventDefault();
    tabs[j].focus();
    showTab(tabs[j].id.slice(4));
    refreshDetail();
  });
}
for (const b of document.querySelectorAll('[data-close]')) b.addEventListener('click', () => b.closest('dialog').close());

// ---- add --------------------------------------------------------------------

let addFiles = [];

async function openAdd(files) {
  const d = $('add-dlg');
  addFiles = files;
  showAddFiles();
  $('add-result').replaceChildren();
  if (!d.open) {
    try {
      state.session = await rpc('session-get');
      $('add-dir').value = state.session['download-dir'] || '';
      $('add-paused').checked = state.session['start-added-torrents'] === false;
    } catch (e) {
      showConn(e);
    }
    d.showModal();
  }
  (files.length ? $('add-submit') : $('add-links')).focus();
}

function showAddFiles() {
  $('add-file-list').replaceChildren(...addFiles.map((f) => el('li', '', `${f.name} (${fmtBytes(f.size)})`)));
}

$('add-open').addEventListener('click', () => openAdd([]));
$('add-cancel').addEventListener('click', () => $('add-dlg').close());
$('add-files').addEventListener('change', (e) => { addFiles = addFiles.concat([...e.target.files]); showAddFiles(); e.target.value = ''; });

function base64(buf) {
  const bytes = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

$('add-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const common = { paused: $('add-paused').checked };
  const dir = $('add-dir').value.trim();
  if (dir) common['download-dir'] = dir;
  const jobs = [];
  for (const f of addFiles) jobs.push([f.name, async () => ({ metainfo: base64(await f.arrayBuffer()) })]);
  for (const line of $('add-links').value.split('\n').map((s) => s.trim()).filter(Boolean)) {
    jobs.push([line.length > 60 ? line.slice(0, 57) + '…' : line, async () => ({ filename: line })]);
  }
  const out = $('add-result');
  if (!jobs.length) { out.textContent = 'Pick a .torrent file or paste a magnet link or URL first.'; return; }
  out.replaceChildren();
  $('add-submit').disabled = true;
  let failed = 0;
  for (const [label, args] of jobs) {
    const li = el('div');
    try {
      const got = await rpc('torrent-add', Object.assign(await args(), common));
      const t = got['torrent-added'] || got['torrent-duplicate'];
      li.textContent = got['torrent-duplicate'] ? `Already there: ${t.name}` : `Added: ${t.name}`;
    } catch (err) {
      failed++;
      li.className = 'bad';
      li.textContent = `${label}: ${err.message}`;
    }
    out.append(li);
  }
  $('add-submit').disabled = false;
  addFiles = [];
  showAddFiles();
  if (!failed) $('add-links').value = '';
  refreshSoon();
});

// Dropping .torrent files anywhere opens the add dialog with them, so the
// folder and "start paused" can still be chosen.
let dragDepth = 0;
const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
document.addEventListener('dragenter', (e) => { if (hasFiles(e)) { dragDepth++; $('drop').hidden = false; } });
document.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; $('drop').hidden = true; } });
document.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
document.addEventListener('drop', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth = 0;
  $('drop').hidden = true;
  const files = [...e.dataTransfer.files].filter((f) => f.name.endsWith('.torrent') || f.type === 'application/x-bittorrent');
  if (files.length) openAdd(($('add-dlg').open ? addFiles : []).concat(files));
});

// ---- session --------------------------------------------------------------

// LIMITS are the session-get fields the page lets one edit, each shown only
// when the server reports it.
const LIMITS = [
  ['speed-limit-down-enabled', 'speed-limit-down', 'Download limit', 'speed'],
  ['speed-limit-up-enabled', 'speed-limit-up', 'Upload limit', 'speed'],
  ['download-queue-enabled', 'download-queue-size', 'Active downloads at most', ''],
  ['seed-queue-enabled', 'seed-queue-size', 'Active seeds at most', ''],
  ['seedRatioLimited', 'seedRatioLimit', 'Stop seeding at ratio', ''],
  ['idle-seeding-limit-enabled', 'idle-seeding-limit', 'Stop seeding when idle for (min)', ''],
];

async function openSession() {
  const d = $('session-dlg');
  $('port-result').textContent = '';
  $('limits-result').textContent = '';
  try {
    const s = await rpc('session-get');
    state.session = s;
    showLimits(s);
    const rows = [['Version', `${s.version || '?'} (RPC ${s['rpc-version'] ?? '?'})`],
      ['Download folder', s['download-dir'] || '–'], ['Free space', '…'],
      ['Listening port', s['peer-port'] !== undefined ? String(s['peer-port']) : '–'],
      // The protocol has no DHT node count; "dht-nodes" is shown when a
      // server adds it.
      ['DHT', s['dht-enabled'] === undefined ? '–' : !s['dht-enabled'] ? 'off'
        : s['dht-nodes'] !== undefined ? `on, ${s['dht-nodes']} nodes` : 'on'],
      ['Rates', '…']];
    facts($('session-info'), rows);
    if (!d.open) d.showModal();
    drawChart($('session-chart'), state.total);
    if (s['download-dir']) {
      rpc('free-space', { path: s['download-dir'] })
        .then((f) => setFact('Free space', fmtBytes(f['size-bytes'])))
        .catch((e) => setFact('Free space', e.message));
    }
  } catch (e) {
    showConn(e);
  }
}

function setFact(name, value) {
  for (const dt of $('session-info').querySelectorAll('dt')) if (dt.textContent === name) dt.nextSibling.textContent = value;
}

function showSessionStats(stats) {
  setFact('Rates', `↓ ${fmtRate(stats.downloadSpeed) || '0 B/s'}  ↑ ${fmtRate(stats.uploadSpeed) || '0 B/s'}, ` +
    `${stats.activeTorrentCount} of ${stats.torrentCount} torrents active`);
  drawChart($('session-chart'), state.total);
}

function showLimits(s) {
  const box = $('limits');
  box.replaceChildren();
  const unit = (s.units && s.units['speed-units'] && s.units['speed-units'][0]) || 'kB/s';
  for (const [on, value, label, kind] of LIMITS) {
    if (s[on] === undefined || s[value] === undefined) continue;
    const l = el('label');
    const cb = el('input');
    cb.type = 'checkbox';
    cb.name = on;
    cb.checked = s[on];
    l.append(cb, ' ' + label);
    const v = el('input');
    v.type = 'number';
    v.min = '0';
    v.step = kind === 'speed' || value === 'seedRatioLimit' ? 'any' : '1';
    v.name = value;
    v.value = s[value];
    v.setAttribute('aria-label', label + (kind === 'speed' ? ` in ${unit}` : ''));
    const vl = el('span');
    vl.append(v, kind === 'speed' ? ' ' + unit : '');
    box.append(l, vl);
  }
}

$('limits-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const change = {};
  for (const input of $('limits').querySelectorAll('input')) {
    const v = input.type === 'checkbox' ? input.checked : Number(input.value);
    if (v !== state.session[input.name]) change[input.name] = v;
  }
  const out = $('limits-result');
  if (!Object.keys(change).length) { out.textContent = 'Nothing changed.'; return; }
  try {
    await rpc('session-set', change);
    Object.assign(state.session, change);
    out.textContent = 'Saved.';
    out.className = '';
  } catch (err) {
    out.textContent = err.message;
    out.className = 'bad';
  }
});

// port-test asks the server to check from outside; only on request, since
// the check itself reaches beyond this machine.
$('port-test').addEventListener('click', async () => {
  const out = $('port-result');
  out.textContent = 'Checking…';
  try {
    const r = await rpc('port-test');
    out.textContent = r['port-is-open'] ? 'reachable from the internet' : 'not reachable from the internet';
  } catch (e) {
    out.textContent = `could not check: ${e.message}`;
  }
});
$('session-open').addEventListener('click', openSession);

// ---- start ------------------------------------------------------------------

measureRow();
buildHead();
showSelection();
window.addEventListener('resize', () => { measureRow(); render(); });
refresh();
