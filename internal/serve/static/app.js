// The nas serve page: runs, a run, a trial, runs side by side. Plain DOM
// (no inline scripts or styles: the content security policy forbids them),
// charts by uPlot, live updates by server-sent events from /api/events.
'use strict';
(() => {
  const app = document.getElementById('app');
  const live = document.getElementById('live');
  // Okabe and Ito's colour-blind-safe palette, as internal/viz uses.
  const palette = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
  const statuses = ['running', 'done', 'failed', 'diverged', 'oversized', 'duplicate', 'stopped'];

  // ---- helpers ----
  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
      else if (k === 'data') for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = dv;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }
  async function api(path) {
    const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.text()).trim()}`);
    return r.json();
  }
  const f4 = x => (x === null || x === undefined ? '—' : x.toFixed(4));
  // A trial's val_acc is its validation accuracy for an image classifier
  // and 1/perplexity for a cell (kind rnn): higher is better for both, so
  // the charts and the Pareto front need no other change; tables add the
  // perplexity.
  const isCell = o => !!o && o.kind === 'rnn';
  const valLabel = o => (isCell(o) ? 'validation 1/perplexity' : 'validation accuracy');
  const valText = (o, x) => (isCell(o) && x > 0 ? `${f4(x)} (ppl ${(1 / x).toFixed(2)})` : f4(x));
  const f3 = x => (x === null || x === undefined ? '—' : x.toFixed(3));
  function count(n) {
    if (!n) return '—';
    for (const [s, u] of [['G', 1e9], ['M', 1e6], ['k', 1e3]]) if (n >= u) return +(n / u).toPrecision(3) + s;
    return String(n);
  }
  function seconds(s) {
    if (s === null || s === undefined) return '—';
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(1) + ' h';
  }
  function ago(t) {
    if (!t) return '—';
    const s = (Date.now() - Date.parse(t)) / 1000;
    if (s < 2) return 'just now';
    return seconds(Math.max(0, s)) + ' ago';
  }
  function budget(o) {
    if (!o) return '—';
    const parts = [];
    if (o.trials) parts.push(o.trials + ' trials');
    if (o.duration) parts.push(seconds(o.duration / 1e9));
    return parts.join(' or ') || 'no limit';
  }
  const badge = s => el('span', { class: 'badge ' + s, text: s });
  const runLink = r => el('a', { href: `#/run/${r.id}`, text: r.name });
  const trialHref = (run, n) => `#/run/${run}/trial/${n}`;

  // ---- charts ----
  let charts = [];
  function destroyCharts() {
    for (const c of charts) c.destroy();
    charts = [];
  }
  function chart(box, opts, data) {
    const width = Math.max(300, box.clientWidth || 600);
    const u = new uPlot(Object.assign({ width, height: 300 }, opts), data, box);
    u.box = box;
    charts.push(u);
    return u;
  }
  window.addEventListener('resize', () => {
    for (const c of charts) c.setSize({ width: Math.max(300, c.box.clientWidth), height: 300 });
  });
  const dots = (stroke) => ({ stroke, fill: stroke + '88', width: 0, paths: () => null, points: { show: true, size: 6, space: 0, stroke, fill: stroke + '88' } });

  // movingWindow is internal/viz's: n/10 trials, at least 5, at most 50.
  const movingWindow = n => Math.min(50, Math.max(5, Math.floor(n / 10)));

  // rewardSeries: trials in index order (final ones) -> x, reward, best so far, moving average.
  function rewardSeries(trials) {
    const fin = trials.filter(t => t.status !== 'running');
    const x = [], y = [], best = [], avg = [];
    const w = movingWindow(fin.length);
    let b = -Infinity, sum = 0;
    fin.forEach((t, i) => {
      x.push(t.index);
      y.push(t.reward);
      b = Math.max(b, t.reward);
      best.push(b);
      sum += t.reward;
      if (i >= w) sum -= fin[i - w].reward;
      avg.push(sum / Math.min(i + 1, w));
    });
    return { x, y, best, avg, w };
  }

  function rewardChart(box, trials) {
    const s = rewardSeries(trials);
    return chart(box, {
      scales: { x: { time: false } },
      axes: [{ label: 'trial' }, { label: 'reward' }],
      series: [
        { label: 'trial' },
        Object.assign({ label: 'reward' }, dots(palette[0])),
        { label: 'best so far', stroke: '#000', width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
        { label: `moving average (${s.w})`, stroke: '#777', width: 1.5, dash: [6, 4], points: { show: false } },
      ],
    }, [s.x, s.y, s.best, s.avg]);
  }

  // scatterChart: best validation accuracy (1/perplexity for cells) against
  // the cost of every done or stopped trial, and the Pareto front (no other
  // trial is both cheaper and more accurate).
  function scatterChart(box, trials, metric, o) {
    const pts = trials.filter(t => (t.status === 'done' || t.status === 'stopped') && t.best_val !== undefined && t[metric] > 0)
      .map(t => [t[metric], t.best_val, t.index]).sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const x = pts.map(p => p[0]), y = pts.map(p => p[1]);
    const front = pts.map(() => null);
    let best = -Infinity;
    pts.forEach((p, i) => { if (p[1] > best) { best = p[1]; front[i] = p[1]; } });
    return chart(box, {
      scales: { x: { time: false, distr: 3 } },
      axes: [{ label: metric === 'params' ? 'parameters' : 'multiply-adds per image', values: (u, vs) => vs.map(v => (v === null ? '' : count(v))) }, { label: valLabel(o) }],
      series: [
        { label: metric, value: (u, v) => (v === null ? '—' : count(v)) },
        Object.assign({ label: 'trials' }, dots(palette[1])),
        { label: 'Pareto front', stroke: palette[5], width: 2, spanGaps: true, paths: uPlot.paths.stepped({ align: 1 }), points: { show: true, size: 7, stroke: palette[5], fill: palette[5] } },
      ],
    }, [x, y, front]);
  }

  // compareChart: best reward so far against the trial index, one line per run.
  function compareChart(box, runs) {
    const n = Math.max(0, ...runs.map(r => r.trials.length));
    const x = Array.from({ length: n }, (_, i) => i);
    const series = [{ label: 'trial' }], data = [x];
    runs.forEach((r, k) => {
      const ys = x.map(() => null);
      let b = null;
      for (const t of r.trials) {
        if (t.status === 'running') continue;
        b = b === null ? t.reward : Math.max(b, t.reward);
        if (t.index < n) ys[t.index] = b;
      }
      series.push({ label: r.run.name, stroke: palette[k % palette.length], width: 2, spanGaps: true, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } });
      data.push(ys);
    });
    return chart(box, { scales: { x: { time: false } }, axes: [{ label: 'trial' }, { label: 'best reward so far' }], series }, data);
  }

  // ---- views ----
  const view = { sort: { key: 'index', dir: 1 }, filter: 'all', metric: 'params' };
  let known = {}; // run id -> version the page shows
  let deps = []; // the runs the current view shows ('all' for every run)

  function remember(run) { known[run.id] = run.version; }

  async function viewRuns() {
    const runs = await api('/api/runs');
    deps = 'all';
    runs.forEach(remember);
    const rows = runs.map(r => {
      const o = r.options;
      const prog = o && o.trials ? el('progress', { max: o.trials, value: Math.min(r.final, o.trials) }) : null;
      return el('tr', { data: { run: r.id } },
        el('td', {}, runLink(r), r.error ? el('div', { class: 'error', text: r.error }) : null),
        el('td', { text: o ? o.strategy : '—' }),
        el('td', { text: o ? o.space : '—' }),
        el('td', { text: r.dataset || '—' }),
        el('td', { text: budget(o) }),
        el('td', {}, prog, ' ', `${r.final}${o && o.trials ? '/' + o.trials : ''}`, r.statuses.running ? el('span', { class: 'muted', text: ` (${r.statuses.running} running)` }) : null),
        el('td', { class: 'num' }, r.best ? el('a', { href: trialHref(r.id, r.best.index), text: f4(r.best.reward) }) : '—'),
        el('td', { class: 'num', text: valText(o, r.best_val_acc), title: valLabel(o) }),
        el('td', { class: 'num', text: f4(r.test_acc), title: r.test_from || '' }),
        el('td', { text: ago(r.updated) }));
    });
    const out = [el('h1', { text: 'Runs' }),
      el('div', { class: 'table-wrap' }, el('table', { id: 'runs' },
        el('thead', {}, el('tr', {}, ['run', 'strategy', 'space', 'data set', 'budget', 'progress', 'best reward', 'best val acc', 'test acc', 'last write'].map(h => el('th', { text: h })))),
        el('tbody', {}, rows)))];
    let box = null;
    if (runs.length > 1) {
      box = el('div', { class: 'chart', id: 'compare-chart' });
      out.push(el('h2', {}, 'Best reward so far, side by side ', el('a', { href: '#/compare', text: '(compare)' })), el('div', { class: 'card' }, box));
    }
    return { nodes: out, after: async () => {
      if (box) compareChart(box, await Promise.all(runs.map(r => api(`/api/runs/${r.id}`))));
    } };
  }

  async function viewCompare() {
    const runs = await api('/api/runs');
    deps = 'all';
    const details = await Promise.all(runs.map(r => api(`/api/runs/${r.id}`)));
    details.forEach(d => remember(d.run));
    const box = el('div', { class: 'chart', id: 'compare-chart' });
    const rows = details.map((d, k) => {
      const r = d.run;
      const sw = el('span', { class: 'badge', text: '■' });
      sw.style.background = palette[k % palette.length]; // CSSOM, allowed by the CSP
      return el('tr', {}, el('td', {}, sw, ' ', runLink(r)), el('td', { text: r.options ? r.options.strategy : '—' }),
        el('td', { class: 'num', text: String(r.final) }),
        el('td', { class: 'num', text: r.best ? f4(r.best.reward) : '—' }), el('td', { class: 'num', text: valText(r.options, r.best_val_acc) }),
        el('td', { class: 'num', text: r.best ? String(r.best.index) : '—' }));
    });
    return { nodes: [el('h1', { text: 'Runs side by side' }),
      el('div', { class: 'card' }, el('div', { class: 'chart-title', text: 'Best reward so far against trials' }), box),
      el('h2', { text: 'Where each run stands' }),
      el('div', { class: 'table-wrap' }, el('table', { id: 'compare' },
        el('thead', {}, el('tr', {}, ['run', 'strategy', 'trials', 'best reward', 'best val acc', 'best trial'].map(h => el('th', { text: h })))),
        el('tbody', {}, rows)))],
    after: () => compareChart(box, details) };
  }

  const columns = [
    { key: 'index', label: '#', num: true },
    { key: 'iteration', label: 'iter', num: true },
    { key: 'status', label: 'status' },
    { key: 'reward', label: 'reward', num: true },
    { key: 'best_val', label: 'val acc (per epoch)', num: true },
    { key: 'params', label: 'params', num: true },
    { key: 'flops', label: 'mult-adds', num: true },
    { key: 'seconds', label: 'time', num: true },
    { key: 'worker', label: 'worker' },
    { key: 'arch', label: 'architecture' },
    { key: 'error', label: 'error' },
  ];

  function trialTable(run, trials) {
    const shown = trials.filter(t => view.filter === 'all' || t.status === view.filter);
    const { key, dir } = view.sort;
    const num = columns.find(c => c.key === key).num;
    shown.sort((a, b) => {
      const va = a[key], vb = b[key];
      let c;
      if (num) c = (va === undefined ? -Infinity : va) - (vb === undefined ? -Infinity : vb);
      else c = String(va || '').localeCompare(String(vb || ''));
      return dir * (c || a.index - b.index);
    });
    const head = el('tr', {}, columns.map(c => el('th', {
      class: ['sortable', c.num ? 'num' : '', c.key === key ? (dir > 0 ? 'sorted-asc' : 'sorted-desc') : ''].join(' '),
      data: { key: c.key }, text: c.key === 'best_val' && isCell(run.options) ? '1/ppl (per epoch)' : c.label,
      on: { click: () => { view.sort = { key: c.key, dir: view.sort.key === c.key ? -view.sort.dir : (c.num && c.key !== 'index' ? -1 : 1) }; refresh(); } },
    })));
    const rows = shown.map(t => el('tr', { data: { trial: t.index, status: t.status } },
      el('td', { class: 'num' }, el('a', { href: trialHref(run.id, t.index), text: String(t.index) })),
      el('td', { class: 'num', text: String(t.iteration) }),
      el('td', {}, badge(t.status), t.dup_of !== undefined ? el('span', { class: 'muted' }, ' of ', el('a', { href: trialHref(run.id, t.dup_of), text: '#' + t.dup_of })) : null),
      el('td', { class: 'num', text: t.status === 'running' ? '—' : f4(t.reward) }),
      el('td', { class: 'num', title: t.val_acc.map(f3).join(' · ') }, f4(t.best_val), t.val_acc.length > 1 ? el('div', { class: 'muted', text: t.val_acc.map(f3).join(' · ') }) : null),
      el('td', { class: 'num', text: count(t.params) }),
      el('td', { class: 'num', text: count(t.flops) }),
      el('td', { class: 'num', text: t.status === 'running' ? 'since ' + ago(t.started) : seconds(t.seconds) }),
      el('td', { text: t.worker }),
      el('td', { class: 'arch', text: t.arch }),
      el('td', { class: 'err', text: t.status === 'duplicate' ? '' : (t.error || '') })));
    const counts = {};
    for (const t of trials) counts[t.status] = (counts[t.status] || 0) + 1;
    const filter = el('select', { id: 'status-filter', on: { change: e => { view.filter = e.target.value; refresh(); } } },
      el('option', { value: 'all', text: `all statuses (${trials.length})` }),
      statuses.filter(s => counts[s]).map(s => el('option', { value: s, text: `${s} (${counts[s]})` })));
    filter.value = view.filter;
    return [el('div', { class: 'controls' }, el('label', {}, 'show ', filter), el('span', { class: 'muted', text: `${shown.length} of ${trials.length} trials; click a column to sort` })),
      el('div', { class: 'table-wrap' }, el('table', { id: 'trials' }, el('thead', {}, head), el('tbody', {}, rows)))];
  }

  function stat(k, v) { return el('div', { class: 'stat' }, el('div', { class: 'k', text: k }), el('div', { class: 'v' }, v)); }

  function downloads(run, names) {
    if (!names || !names.length) return null;
    return el('span', { class: 'downloads' }, names.map(n => el('a', { href: `/api/runs/${run}/models/${n}`, download: `run${run}-${n}`, class: 'model-link', text: '⤓ ' + n })));
  }

  async function viewRun(id) {
    const d = await api(`/api/runs/${id}`);
    const r = d.run, o = r.options;
    deps = [r.id];
    remember(r);
    const head = [el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'Runs' }), ' / ', r.name), el('h1', { text: r.name })];
    if (r.error) return { nodes: [...head, el('p', { class: 'error', text: r.error })] };
    const co = o.child || {};
    head.push(el('div', { class: 'muted', text: `${o.strategy} on ${r.dataset}, space ${o.space}, M=${o.m}, seed ${o.seed}; children: ${co.epochs || 1} epoch(s), batch ${co.batch || 32}, lr ${co.lr || 0.05}` }));
    head.push(el('div', { class: 'summary' },
      stat('progress', `${r.final}${o.trials ? ' / ' + o.trials : ''} trials`),
      stat('running', String(r.statuses.running || 0)),
      stat('best reward', r.best ? el('a', { href: trialHref(r.id, r.best.index), text: `${f4(r.best.reward)} (#${r.best.index})` }) : '—'),
      stat(isCell(o) ? 'best val 1/ppl' : 'best val acc', valText(o, r.best_val_acc)),
      stat('test acc', r.test_acc !== undefined ? `${f4(r.test_acc)} (${r.test_from})` : '—'),
      stat('budget', budget(o)),
      stat('last write', ago(r.updated))));
    if (r.models.length) head.push(el('p', {}, 'Models: ', downloads(r.id, r.models.map(m => m.name))));
    const rbox = el('div', { class: 'chart', id: 'reward-chart' }), sbox = el('div', { class: 'chart', id: 'scatter-chart' });
    const metric = el('select', { id: 'cost-metric', on: { change: e => { view.metric = e.target.value; refresh(); } } },
      el('option', { value: 'params', text: 'parameters' }), el('option', { value: 'flops', text: 'multiply-adds' }));
    metric.value = view.metric;
    return { nodes: [...head,
      el('div', { class: 'grid' },
        el('div', { class: 'card' }, el('div', { class: 'chart-title', text: 'Reward over trials' }), rbox),
        el('div', { class: 'card' }, el('div', { class: 'chart-title' }, el('span', { text: isCell(o) ? '1/perplexity against cost' : 'Accuracy against cost' }), metric), sbox)),
      el('h2', { text: 'Trials' }), ...trialTable(r, d.trials)],
    after: () => { rewardChart(rbox, d.trials); scatterChart(sbox, d.trials, view.metric, o); } };
  }

  async function viewTrial(id, n) {
    const d = await api(`/api/runs/${id}`);
    const r = d.run;
    deps = [r.id];
    remember(r);
    const t = d.trials.find(t => t.index === n);
    const crumbs = el('div', { class: 'crumbs' }, el('a', { href: '#/', text: 'Runs' }), ' / ', el('a', { href: `#/run/${id}`, text: r.name }), ` / trial ${n}`);
    if (!t) return { nodes: [crumbs, el('h1', { text: `Trial ${n}` }), el('p', { class: 'error', text: 'no such trial (yet)' })] };
    const facts = [
      ['status', badge(t.status)], ['reward', t.status === 'running' ? '—' : f4(t.reward)],
      [valLabel(r.options), t.val_acc.length ? t.val_acc.map(v => valText(r.options, v)).join(' · ') : '—'],
      ['parameters', count(t.params)], ['multiply-adds', count(t.flops)],
      ['time', t.status === 'running' ? 'running since ' + ago(t.started) : seconds(t.seconds)],
      ['iteration', String(t.iteration)], ['layers', String(t.layers)], ['strategy', t.strategy], ['worker', t.worker], ['seed', t.seed],
      ['started', t.started || '—'], ['finished', t.finished || '—'],
    ];
    if (t.dup_of !== undefined) facts.push(['duplicate of', el('a', { href: trialHref(id, t.dup_of), text: 'trial ' + t.dup_of })]);
    if (t.error) facts.push(['error', el('span', { class: 'error', text: t.error })]);
    if (t.models) facts.push(['model', downloads(id, t.models)]);
    const img = el('img', { id: 'arch', alt: `architecture of trial ${n}`, src: `/api/runs/${id}/trials/${n}/arch.svg?v=${r.version}` });
    const fig = el('figure', {}, img);
    img.addEventListener('error', () => {
      fetch(img.src, { credentials: 'same-origin' }).then(x => x.text()).then(msg => fig.replaceChildren(el('p', { class: 'muted', text: 'no picture: ' + msg.trim() })));
    });
    const cbox = el('div', { class: 'chart', id: 'curve-chart' });
    return { nodes: [crumbs, el('h1', { text: `Trial ${n}` }), el('div', { class: 'archstr mono', text: t.arch }),
      el('div', { class: 'grid' },
        el('div', { class: 'card' }, el('dl', { class: 'facts' }, facts.map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]))),
        el('div', { class: 'card' }, el('div', { class: 'chart-title', text: 'Training curve' }), cbox)),
      el('h2', { text: 'Architecture' }), el('div', { class: 'card' }, fig)],
    after: () => {
      if (!t.val_acc.length) { cbox.replaceChildren(el('p', { class: 'muted', text: 'no epoch finished yet' })); return; }
      chart(cbox, { scales: { x: { time: false } }, axes: [{ label: 'epoch' }, { label: valLabel(r.options) }],
        series: [{ label: 'epoch' }, { label: valLabel(r.options), stroke: palette[0], width: 2, points: { show: true, size: 7 } }] },
      [t.val_acc.map((_, i) => i + 1), t.val_acc]);
    } };
  }

  // ---- routing and refresh ----
  let seq = 0;
  async function render() {
    const my = ++seq;
    const h = location.hash.replace(/^#/, '') || '/';
    let m, v;
    try {
      if ((m = h.match(/^\/run\/(\d+)\/trial\/(\d+)$/))) v = await viewTrial(+m[1], +m[2]);
      else if ((m = h.match(/^\/run\/(\d+)$/))) v = await viewRun(+m[1]);
      else if (h === '/compare') v = await viewCompare();
      else v = await viewRuns();
    } catch (e) {
      v = { nodes: [el('h1', { text: 'Error' }), el('p', { class: 'error', text: String(e.message || e) })] };
    }
    if (my !== seq) return; // a newer render started
    const y = window.scrollY;
    destroyCharts();
    app.replaceChildren(...v.nodes);
    if (v.after) await v.after();
    window.scrollTo(0, y);
    document.body.dataset.rendered = String(my);
  }
  let pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; render(); }, 150);
  }
  window.addEventListener('hashchange', () => { view.filter = 'all'; render(); });

  function connect() {
    const es = new EventSource('/api/events');
    es.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
    es.addEventListener('error', () => { live.textContent = 'reconnecting'; live.className = 'live off'; });
    es.addEventListener('change', e => {
      const d = JSON.parse(e.data);
      if (known[d.run] === d.version) return;
      if (deps === 'all' || deps.includes(d.run)) refresh();
    });
  }
  render();
  connect();
})();
