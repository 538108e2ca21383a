// seminas dashboard: reads the JSON API and draws everything by hand in SVG. Every string
// from a run goes into the page with textContent or createTextNode, never as markup.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00', '#00838f', '#5d4037', '#ad1457'];
const ORIGIN_COLORS = { initial: '#9e9e9e', random: '#795548', mutated: '#ef6c00', generated: '#1565c0', scored: '#2e7d32', ranked: '#00838f', enqueued: '#6a1b9a', other: '#000' };
const ROW_LIMIT = 2000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'onclick' || k === 'oninput' || k === 'onchange') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return e;
}

function sv(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

async function api(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

const fmt = (v, d = 4) => (v === null || v === undefined || Number.isNaN(v)) ? '-' : Number(v).toFixed(d);
function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}
function originKind(o) {
  if (!o) return 'other';
  for (const k of ['initial', 'random', 'mutated', 'generated', 'scored', 'ranked', 'enqueued']) if (o.includes(k)) return k;
  return 'other';
}

// ---------- plots ----------

function ticks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
  const best = [1, 2, 5, 10].map(m => m * step).find(s => (hi - lo) / s <= n) || step * 10;
  const out = [];
  for (let v = Math.ceil(lo / best) * best; v <= hi + 1e-12; v += best) out.push(v);
  return out;
}

// A plot frame: returns {svg, x(v), y(v)} over the given ranges.
function frame(title, xr, yr, xlabel, ylabel, w = 560, h = 300) {
  const m = { l: 62, r: 12, t: 22, b: 40 };
  const svg = sv('svg', { width: w, height: h, class: 'plot', viewBox: `0 0 ${w} ${h}` });
  const [x0, x1] = xr[1] > xr[0] ? xr : [xr[0] - 1, xr[0] + 1];
  const [y0, y1] = yr[1] > yr[0] ? yr : [yr[0] - 1, yr[0] + 1];
  const x = v => m.l + (v - x0) / (x1 - x0) * (w - m.l - m.r);
  const y = v => h - m.b - (v - y0) / (y1 - y0) * (h - m.t - m.b);
  svg.appendChild(sv('text', { x: m.l, y: 14, 'font-weight': 600 }, title));
  svg.appendChild(sv('line', { x1: m.l, y1: h - m.b, x2: w - m.r, y2: h - m.b, stroke: '#999' }));
  svg.appendChild(sv('line', { x1: m.l, y1: m.t, x2: m.l, y2: h - m.b, stroke: '#999' }));
  for (const t of ticks(x0, x1, 6)) {
    svg.appendChild(sv('line', { x1: x(t), y1: h - m.b, x2: x(t), y2: h - m.b + 4, stroke: '#999' }));
    svg.appendChild(sv('text', { x: x(t), y: h - m.b + 15, 'text-anchor': 'middle' }, +t.toPrecision(6)));
  }
  for (const t of ticks(y0, y1, 5)) {
    svg.appendChild(sv('line', { x1: m.l, y1: y(t), x2: w - m.r, y2: y(t), stroke: '#eee' }));
    svg.appendChild(sv('text', { x: m.l - 4, y: y(t) + 4, 'text-anchor': 'end' }, +t.toPrecision(6)));
  }
  svg.appendChild(sv('text', { x: (w + m.l) / 2, y: h - 6, 'text-anchor': 'middle' }, xlabel));
  svg.appendChild(sv('text', { x: 12, y: (h - m.b + m.t) / 2, transform: `rotate(-90 12 ${(h - m.b + m.t) / 2})`, 'text-anchor': 'middle' }, ylabel));
  return { svg, x, y, w, h, m };
}

function range(values) {
  const v = values.filter(Number.isFinite);
  return v.length ? [Math.min(...v), Math.max(...v)] : [0, 1];
}

// Lines: series = [{name, points: [[x, y]], color}]; each line has one vertex per point.
function linePlot(title, series, xlabel, ylabel, cls) {
  const xs = series.flatMap(s => s.points.map(p => p[0]));
  const ys = series.flatMap(s => s.points.map(p => p[1]));
  const f = frame(title, range(xs), range(ys), xlabel, ylabel);
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    const pts = s.points.filter(p => Number.isFinite(p[1])).map(p => `${f.x(p[0]).toFixed(1)},${f.y(p[1]).toFixed(1)}`).join(' ');
    f.svg.appendChild(sv('polyline', { points: pts, fill: 'none', stroke: color, 'stroke-width': 1.5, class: cls || 'curve', 'data-name': s.name }));
    f.svg.appendChild(sv('text', { x: f.w - f.m.r - 4, y: f.m.t + 12 + 13 * i, 'text-anchor': 'end', fill: color }, s.name));
  });
  return f.svg;
}

// Points: [{x, y, color, title}].
function scatterPlot(title, points, xlabel, ylabel, legend, cls) {
  const f = frame(title, range(points.map(p => p.x)), range(points.map(p => p.y)), xlabel, ylabel);
  for (const p of points) {
    if (!Number.isFinite(p.y)) continue;
    const c = sv('circle', { cx: f.x(p.x).toFixed(1), cy: f.y(p.y).toFixed(1), r: 2.5, fill: p.color, class: cls || 'dot' });
    if (p.title) c.appendChild(sv('title', {}, p.title));
    f.svg.appendChild(c);
  }
  (legend || []).forEach(([name, color], i) => {
    f.svg.appendChild(sv('circle', { cx: f.w - 110, cy: f.m.t + 8 + 13 * i, r: 3, fill: color }));
    f.svg.appendChild(sv('text', { x: f.w - 102, y: f.m.t + 12 + 13 * i }, name));
  });
  return f.svg;
}

// ---------- architectures ----------

function drawArch(space, arch) {
  if (typeof arch === 'string' && arch.startsWith('|')) return drawNb201(arch);
  if (arch && Array.isArray(arch.matrix) && Array.isArray(arch.ops)) return drawNb101(arch);
  if (arch && arch.space === 'mobile' && typeof arch.arch === 'string') return drawMobile(arch);
  if (arch && typeof arch === 'object') {
    const t = el('table', { class: 'arch-table' }, el('tr', {}, el('th', {}, 'position'), el('th', {}, 'choice')));
    for (const [k, v] of Object.entries(arch)) t.appendChild(el('tr', {}, el('td', {}, k), el('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))));
    return t;
  }
  return el('span', { class: 'cell-arch' }, String(arch));
}

function dagSvg(labels, edges, w) {
  // Nodes in a row; edge i->j as an arc above the row, labelled at its top.
  const n = labels.length, below = 30 + 14 * n, h = 2 * below + 40;
  const svg = sv('svg', { width: w, height: h, class: 'arch' });
  const x = i => 40 + i * (w - 80) / Math.max(1, n - 1), base = h - below;
  // Neighbours: a straight edge; longer edges: arcs, alternately above and below the row.
  edges.forEach(([i, j, label, dashed]) => {
    const x0 = x(i), x1 = x(j), span = j - i;
    const lift = span === 1 ? 0 : (span % 2 === 0 ? 1 : -1) * (22 + 14 * span);
    const mid = (x0 + x1) / 2, top = base - 2 * lift;
    svg.appendChild(sv('path', { d: `M${x0},${base} Q${mid},${top} ${x1},${base}`, fill: 'none', stroke: dashed ? '#bbb' : '#1565c0', 'stroke-dasharray': dashed ? '4 3' : '', class: 'edge' }));
    if (label) svg.appendChild(sv('text', { x: mid, y: base - lift + (lift < 0 ? 12 : -4), 'text-anchor': 'middle', class: 'edge-label' }, label));
  });
  labels.forEach((l, i) => {
    svg.appendChild(sv('circle', { cx: x(i), cy: base, r: 11, fill: '#fff', stroke: '#333', class: 'node' }));
    svg.appendChild(sv('text', { x: x(i), y: base + 4, 'text-anchor': 'middle' }, String(i)));
    if (l) svg.appendChild(sv('text', { x: x(i) + 14, y: base - 14, 'text-anchor': 'start', 'font-weight': 600 }, l));
  });
  return svg;
}

function drawNb201(s) {
  // |op~0|+|op~0|op~1|+|op~0|op~1|op~2| : node i gets one edge from each earlier node.
  const edges = [];
  s.split('+').forEach((part, k) => {
    part.split('|').filter(Boolean).forEach(e => {
      const [op, from] = e.split('~');
      edges.push([Number(from), k + 1, op, op === 'none']);
    });
  });
  return dagSvg(['in', '', '', 'out'], edges, 460);
}

function drawNb101(a) {
  const edges = [];
  a.matrix.forEach((row, i) => row.forEach((v, j) => { if (v) edges.push([i, j, '', false]); }));
  return dagSvg(a.ops, edges, 80 + 70 * a.ops.length);
}

function drawMobile(a) {
  const blocks = a.arch.split(/[,|]/);
  const w = 34, svg = sv('svg', { width: 12 + w * blocks.length, height: 74, class: 'arch' });
  blocks.forEach((b, i) => {
    const m = /^k(\d)e(\d)$/.exec(b);
    const g = sv('g', { class: 'block' });
    g.appendChild(sv('rect', { x: 6 + i * w, y: 10, width: w - 4, height: 44, fill: m ? `hsl(${200 - 20 * Number(m[1])},60%,${95 - 6 * Number(m[2])}%)` : '#eee', stroke: '#555', 'stroke-dasharray': m ? '' : '3 2' }));
    g.appendChild(sv('text', { x: 6 + i * w + (w - 4) / 2, y: 28, 'text-anchor': 'middle' }, m ? `k${m[1]}` : 'skip'));
    if (m) g.appendChild(sv('text', { x: 6 + i * w + (w - 4) / 2, y: 44, 'text-anchor': 'middle' }, `e${m[2]}`));
    g.appendChild(sv('title', {}, b));
    svg.appendChild(g);
  });
  svg.appendChild(sv('text', { x: 6, y: 68 }, `${fmt(a.mflops, 1)} MFLOPs, ${a.params} parameters`));
  return svg;
}

// ---------- views ----------

const main = () => document.getElementById('main');
let refresh = null;

function setStatus(text) { document.getElementById('status').textContent = text; }

async function runsView() {
  const [{ runs }, { benches }] = await Promise.all([api('/api/runs'), api('/api/benches')]);
  const root = el('div', {});
  root.appendChild(el('h2', {}, `Runs (${runs.length})`));
  const selected = new Set();
  const table = el('table', { id: 'runs' }, el('tr', {}, ...['', 'run', 'space', 'algorithm', 'seed', 'status', 'queries', 'best objective', 'its report', 'elapsed', 'failures'].map(h => el('th', {}, h))));
  for (const r of runs) {
    const box = el('input', { type: 'checkbox', onchange: e => e.target.checked ? selected.add(r.id) : selected.delete(r.id) });
    table.appendChild(el('tr', { class: 'run-row' },
      el('td', {}, box),
      el('td', {}, el('a', { href: `#/run/${r.id}` }, r.dir)),
      el('td', {}, r.space), el('td', {}, r.algo), el('td', { class: 'num' }, r.seed),
      el('td', { class: `state-${r.state}` }, r.state),
      el('td', { class: 'num' }, `${r.queries ?? '-'} / ${r.budget ?? r.time_budget ?? '?'}`),
      el('td', { class: 'num' }, fmt(r.best && r.best.objective)),
      el('td', { class: 'num' }, fmt(r.best && r.best.report)),
      el('td', { class: 'num' }, duration(r.elapsed_seconds || 0)),
      el('td', { class: 'num' }, r.failures ?? '-')));
  }
  root.appendChild(table);
  root.appendChild(el('button', { onclick: () => { if (selected.size) location.hash = `#/compare/${[...selected].join(',')}`; } }, 'Compare selected runs'));
  if (benches.length) {
    root.appendChild(el('h2', {}, `Bench results (${benches.length})`));
    const ul = el('ul', {});
    for (const b of benches) ul.appendChild(el('li', {}, el('a', { href: `#/bench/${b.id}` }, b.dir)));
    root.appendChild(ul);
  }
  main().replaceChildren(root);
}

// A run's view keeps its trials and fetches only the new ones when polled.
const cache = {};
async function loadRun(id) {
  const c = cache[id] || (cache[id] = { trials: [] });
  const data = await api(`/api/runs/${id}?since=${c.trials.length}`);
  if (data.run.queries < c.trials.length) { c.trials = []; return loadRun(id); }
  c.trials.push(...data.trials);
  c.run = data.run;
  c.running = data.running_steps || {};
  return c;
}

// Learning curves: every trial's objective by step; trainings stopped early in red, whole
// ones in blue, trainings still running in green.
function curvesPlot(trials, running) {
  const lines = trials.filter(t => t.steps && t.steps.length).map(t => ({ points: t.steps, kind: t.stopped_at ? 'stopped' : 'whole', n: t.n }));
  for (const [index, steps] of Object.entries(running || {})) lines.push({ points: steps, kind: 'running', n: `proposal ${index}` });
  const color = { whole: '#1565c0', stopped: '#c62828', running: '#2e7d32' };
  const f = frame('Learning curves (objective by step)', range(lines.flatMap(l => l.points.map(p => p[0]))),
    range(lines.flatMap(l => l.points.map(p => p[1]))), 'step', 'objective');
  for (const l of lines) {
    const pts = l.points.map(p => `${f.x(p[0]).toFixed(1)},${f.y(p[1]).toFixed(1)}`).join(' ');
    const line = sv('polyline', { points: pts, fill: 'none', stroke: color[l.kind], 'stroke-opacity': 0.6, 'stroke-width': 1.2, class: `learning ${l.kind}` });
    line.appendChild(sv('title', {}, `query ${l.n} (${l.kind})`));
    f.svg.appendChild(line);
  }
  Object.entries(color).forEach(([kind, c], i) => f.svg.appendChild(sv('text', { x: f.w - f.m.r - 4, y: f.m.t + 12 + 13 * i, 'text-anchor': 'end', fill: c }, kind)));
  return f.svg;
}

function bestCurve(run, trials, key) {
  let best = null;
  const sign = run.minimize ? -1 : 1;
  let bestReport = null;
  return trials.map(t => {
    if (t.objective !== null && !t.stopped_at && (best === null || sign * t.objective > sign * best)) { best = t.objective; bestReport = t.report; }
    return key === 'report' ? bestReport : best;
  });
}

async function runView(id) {
  const { run, trials, running } = await loadRun(id);
  const preds = await api(`/api/runs/${id}/predictions`);
  const root = el('div', {});
  root.appendChild(el('h2', {}, run.dir));
  root.appendChild(el('p', { class: 'meta' },
    `${run.algo} on ${run.space}, seed ${run.seed} · `, el('span', { class: `state-${run.state}`, id: 'run-state' }, run.state),
    ` · `, el('span', { id: 'query-count' }, String(trials.length)), `${run.budget != null ? ` / ${run.budget}` : (run.time_budget ? '' : ' / ?')} queries${run.time_budget ? ` (budget: ${run.time_budget})` : ''} · ${run.failures} failed · ${run.not_evaluable} not evaluable` +
    (run.stopped ? ` · ${run.stopped} stopped early` : '')));
  root.appendChild(el('p', { class: 'meta' }, 'command: seminas ', (run.args || []).join(' ')));
  const n = trials.map(t => t.n);
  const obj = bestCurve(run, trials, 'objective'), rep = bestCurve(run, trials, 'report');
  const plots = el('div', { class: 'plots' });
  const series = [{ name: 'best objective', points: n.map((x, i) => [x, obj[i]]) }];
  if (rep.some(v => v !== null && v !== undefined)) series.push({ name: 'its report', points: n.map((x, i) => [x, rep[i]]) });
  plots.appendChild(linePlot('Best so far, by query', series, 'query', 'value', 'curve'));
  const wall = trials.map(t => (t.finished_unix - run.created_unix) / 60);
  plots.appendChild(linePlot('Best so far, by wall time', series.map(s => ({ name: s.name, points: s.points.map((p, i) => [wall[i], p[1]]) })), 'minutes since start', 'value', 'curve-time'));
  const kinds = {};
  plots.appendChild(scatterPlot('Objective of every query', trials.filter(t => t.objective !== null).map(t => {
    const k = originKind(t.origin); kinds[k] = ORIGIN_COLORS[k];
    return { x: t.n, y: t.objective, color: ORIGIN_COLORS[k], title: `query ${t.n}: ${t.origin || ''}` };
  }), 'query', 'objective', Object.entries(kinds), 'dot'));
  if (trials.some(t => t.steps && t.steps.length) || Object.keys(running || {}).length) plots.appendChild(curvesPlot(trials, running));
  if (preds.count > 0) {
    const pts = preds.rounds.flatMap((r, i) => r.points.map(p => ({ x: p.predicted, y: p.objective, color: COLORS[i % COLORS.length], title: `round ${r.round}, query ${p.n}` })));
    plots.appendChild(scatterPlot(`Predicted vs true (Kendall tau ${fmt(preds.tau, 3)})`, pts, 'predicted', 'objective', [], 'pred'));
  }
  root.appendChild(plots);
  if (preds.count > 0) {
    const t = el('table', {}, el('tr', {}, el('th', {}, 'round'), el('th', {}, 'queries'), el('th', {}, 'Kendall tau')));
    for (const r of preds.rounds.slice(-20)) t.appendChild(el('tr', {}, el('td', {}, r.round), el('td', { class: 'num' }, r.points.length), el('td', { class: 'num' }, fmt(r.tau, 3))));
    root.appendChild(el('details', {}, el('summary', {}, 'Kendall tau per round (last 20)'), t));
  }
  if (run.best) {
    root.appendChild(el('h3', {}, `Best architecture (query ${run.best.n}, objective ${fmt(run.best.objective)})`));
    root.appendChild(drawArch(run.space, run.best.arch));
    root.appendChild(el('div', { class: 'cell-arch' }, typeof run.best.arch === 'string' ? run.best.arch : JSON.stringify(run.best.arch)));
  }
  const detail = el('div', { id: 'detail' });
  root.appendChild(el('h3', {}, 'Trials'));
  const filter = el('input', { class: 'filter', placeholder: 'filter (architecture, origin, status, reason)', id: 'filter' });
  root.appendChild(filter);
  const holder = el('div', {});
  root.appendChild(holder);
  root.appendChild(detail);
  const state = runView.state[id] || (runView.state[id] = { key: 'n', dir: 1, filter: '' });
  filter.value = state.filter;
  const draw = () => holder.replaceChildren(trialTable(id, run, trials, state, detail, draw));
  filter.addEventListener('input', () => { state.filter = filter.value; draw(); });
  draw();
  const focus = document.activeElement && document.activeElement.id === 'filter';
  main().replaceChildren(root);
  if (focus) { filter.focus(); }
  if (state.open !== undefined) showTrial(id, run, trials.find(t => t.n === state.open), detail, state);
}
runView.state = {};

function archText(a) { return typeof a === 'string' ? a : JSON.stringify(a); }

function trialTable(id, run, trials, state, detail, redraw) {
  const cols = [['n', 'n'], ['status', 'status'], ['origin', 'origin'], ['objective', 'objective'], ['report', 'report'], ['predicted', 'predicted'], ['cost_seconds', 'cost (s)'], ['stopped_at', 'stopped at'], ['arch', 'architecture'], ['reason', 'failure reason']];
  const f = state.filter.toLowerCase();
  let rows = trials.filter(t => !f || [archText(t.arch), t.origin || '', t.status, t.reason || ''].some(s => s.toLowerCase().includes(f)));
  const k = state.key;
  rows = rows.slice().sort((a, b) => {
    const x = k === 'arch' ? archText(a.arch) : a[k], y = k === 'arch' ? archText(b.arch) : b[k];
    if (x === y) return a.n - b.n;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * state.dir;
  });
  const t = el('table', { id: 'trials' }, el('tr', {}, ...cols.map(([key, label]) => el('th', {
    onclick: () => { state.dir = state.key === key ? -state.dir : 1; state.key = key; redraw(); }
  }, label + (state.key === key ? (state.dir > 0 ? ' ▲' : ' ▼') : '')))));
  for (const r of rows.slice(0, ROW_LIMIT)) {
    t.appendChild(el('tr', { class: `clickable trial-row ${r.status}`, onclick: () => { state.open = r.n; showTrial(id, run, r, detail, state); } },
      el('td', { class: 'num' }, r.n), el('td', {}, r.status), el('td', {}, r.origin || ''),
      el('td', { class: 'num' }, fmt(r.objective)), el('td', { class: 'num' }, fmt(r.report)), el('td', { class: 'num' }, fmt(r.predicted)),
      el('td', { class: 'num' }, fmt(r.cost_seconds, 1)), el('td', { class: 'num' }, r.stopped_at ?? ''), el('td', { class: 'cell-arch' }, archText(r.arch)), el('td', {}, r.reason || '')));
  }
  const wrap = el('div', {}, t);
  if (rows.length > ROW_LIMIT) wrap.appendChild(el('p', { class: 'note' }, `showing ${ROW_LIMIT} of ${rows.length} rows: filter or sort to see others`));
  return wrap;
}

async function showTrial(id, run, t, detail, state) {
  if (!t) return;
  const box = el('div', {}, el('h3', {}, `Query ${t.n} (${t.status})`), drawArch(run.space, t.arch), el('div', { class: 'cell-arch' }, archText(t.arch)));
  if (t.reason) box.appendChild(el('p', {}, t.status === 'failed' ? 'failure: ' : 'note: ', t.reason));
  if (t.steps && t.steps.length) {
    box.appendChild(linePlot(t.stopped_at ? `Learning curve (stopped at step ${t.stopped_at})` : 'Learning curve',
      [{ name: 'objective', points: t.steps.map(p => [p[0], p[1]]) }], 'step', 'objective', 'trial-curve'));
  }
  if (t.evals_dir) {
    const index = String(t.index).padStart(6, '0');
    for (const name of ['stdout.log', 'stderr.log']) {
      try {
        const log = await api(`/api/runs/${id}/logs/${index}/${name}`);
        box.appendChild(el('h3', {}, `${name} (${log.size} bytes${log.truncated ? ', last 64 KiB' : ''})`));
        box.appendChild(el('pre', { class: 'log' }, log.text));
      } catch (e) { box.appendChild(el('p', { class: 'note' }, `${name}: ${e.message}`)); }
    }
  }
  detail.replaceChildren(box);
}

async function compareView(ids) {
  const root = el('div', {}, el('h2', {}, 'Compare runs'));
  const series = [], seriesTime = [];
  const table = el('table', {}, el('tr', {}, ...['run', 'algorithm', 'seed', 'queries', 'best objective', 'its report'].map(h => el('th', {}, h))));
  for (const id of ids) {
    const { run, trials } = await loadRun(id);
    const best = bestCurve(run, trials, 'objective');
    series.push({ name: `${run.algo} seed ${run.seed}`, points: trials.map((t, i) => [t.n, best[i]]) });
    seriesTime.push({ name: `${run.algo} seed ${run.seed}`, points: trials.map((t, i) => [(t.finished_unix - run.created_unix) / 60, best[i]]) });
    table.appendChild(el('tr', {}, el('td', {}, el('a', { href: `#/run/${id}` }, run.dir)), el('td', {}, run.algo), el('td', {}, run.seed),
      el('td', { class: 'num' }, trials.length), el('td', { class: 'num' }, fmt(run.best && run.best.objective)), el('td', { class: 'num' }, fmt(run.best && run.best.report))));
  }
  root.appendChild(el('div', { class: 'plots' }, linePlot('Best objective so far', series, 'query', 'objective', 'curve'), linePlot('Best objective so far, by time', seriesTime, 'minutes since start', 'objective', 'curve-time')));
  root.appendChild(table);
  main().replaceChildren(root);
}

async function benchView(id) {
  const b = await api(`/api/benches/${id}`);
  const root = el('div', {}, el('h2', {}, b.dir));
  if (b.table && b.table.rows) {
    if (b.table.space) root.appendChild(el('p', { class: 'meta' }, `${b.table.space}: objective ${b.table.objective}, report ${b.table.report}, optimum ${b.table.optimum ?? '-'}`));
    const cols = ['algo', 'queries', 'seeds', 'mean_report', 'std_report', 'mean_regret', 'mean_rank', 'hit_rate', 'mean_seconds'];
    const t = el('table', { id: 'bench-table' }, el('tr', {}, ...cols.map(c => el('th', {}, c))));
    for (const r of b.table.rows) t.appendChild(el('tr', {}, ...cols.map(c => el('td', { class: typeof r[c] === 'number' ? 'num' : '' }, typeof r[c] === 'number' && !Number.isInteger(r[c]) ? fmt(r[c]) : (r[c] ?? '-')))));
    root.appendChild(t);
  }
  const series = Object.entries(b.curves).map(([name, pts]) => ({ name, points: pts.map(p => [p[0], p[1]]) }));
  if (series.length) root.appendChild(el('div', { class: 'plots' }, linePlot('Mean best-so-far report', series, 'queries', 'mean report', 'curve')));
  main().replaceChildren(root);
}

async function route() {
  const h = location.hash || '#/';
  const parts = h.slice(2).split('/');
  try {
    if (parts[0] === 'run' && parts[1]) await runView(parts[1]);
    else if (parts[0] === 'compare' && parts[1]) await compareView(parts[1].split(','));
    else if (parts[0] === 'bench' && parts[1]) await benchView(parts[1]);
    else await runsView();
    setStatus(`updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    setStatus(`error: ${e.message}`);
  }
}

window.addEventListener('hashchange', () => { clearTimeout(refresh); poll(); });
function poll() {
  route().finally(() => {
    const h = location.hash || '#/';
    clearTimeout(refresh);
    if (!h.startsWith('#/bench')) refresh = setTimeout(poll, 2000);
  });
}
poll();
