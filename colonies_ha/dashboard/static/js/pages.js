// The dashboard's pages.  Each renders into ctx.main and registers, through ctx.live, what
// to re-fetch when a process of the colony changes (WebSocket subscription or polling).
import { drawDag } from './dag.js';
import {
  EXECUTOR_STATES,
  STATES,
  ago,
  duration,
  facts,
  formatTime,
  h,
  isZeroTime,
  json,
  short,
  stateBadge,
  table,
} from './dom.js';

const COUNT = 100; // the protocol's maximum per list request
const ATTRIBUTE_TYPES = ['in', 'out', 'err', 'env'];
const link = (hash, text, attrs = {}) => h('a', { href: hash, ...attrs }, text);
const always = () => true;

function statCards(stats, kind) {
  const names = kind === 'workflows' ? 'workflows' : 'processes';
  return h(
    'div',
    { class: 'cards' },
    STATES.map((state) =>
      h(
        'a',
        { class: `card state-${state}`, href: `#/${names}?state=${STATES.indexOf(state)}` },
        h('span', { class: 'count', 'data-stat': `${state}${names}` }, stats[`${state}${names}`] ?? 0),
        h('span', {}, `${state} ${names}`),
      ),
    ),
  );
}

// ---------------------------------------------------------------- overview

async function overview(ctx) {
  if (ctx.session.role === 'server') return colonies(ctx);
  const { colonyid } = ctx.session;
  const draw = async () => {
    const stats = await ctx.api.rpc('getcolonystatsmsg', { colonyid });
    ctx.main.replaceChildren(
      h('h2', {}, 'Colony ', h('code', {}, colonyid)),
      h('h3', {}, 'Processes'),
      statCards(stats, 'processes'),
      h('h3', {}, 'Workflows'),
      statCards(stats, 'workflows'),
      facts([['Executors', String(stats.executors ?? '—')]]),
    );
  };
  await draw();
  ctx.live(always, draw);
}

// ---------------------------------------------------------------- colonies (server key)

async function colonies(ctx) {
  const [list, stats] = await Promise.all([
    ctx.api.rpc('getcoloniesmsg'),
    ctx.api.rpc('getstatisticsmsg'),
  ]);
  ctx.main.replaceChildren(
    h('h2', {}, 'Colonies'),
    table(
      ['Name', 'Colony id'],
      list.map((c) => h('tr', {}, h('td', {}, c.name), h('td', {}, h('code', {}, c.colonyid)))),
      { id: 'colonies' },
    ),
    h(
      'p',
      { class: 'hint' },
      "A colony's processes are visible with its colony key or one of its executors' keys.",
    ),
    h('h3', {}, 'All processes'),
    statCards(stats, 'processes'),
    h('h3', {}, 'All workflows'),
    statCards(stats, 'workflows'),
    facts([
      ['Colonies', String(stats.colonies)],
      ['Executors', String(stats.executors)],
    ]),
  );
}

// ---------------------------------------------------------------- executors

async function executors(ctx) {
  const draw = async () => {
    const list = await ctx.api.rpc('getexecutorsmsg', { colonyid: ctx.session.colonyid });
    list.sort((a, b) => (b.lastheardfromtime ?? '').localeCompare(a.lastheardfromtime ?? ''));
    ctx.main.replaceChildren(
      h('h2', {}, `Executors (${list.length})`),
      table(
        ['Name', 'Type', 'State', 'Last heard from', 'Registered', 'Executor id'],
        list.map((e) =>
          h(
            'tr',
            { 'data-executorid': e.executorid },
            h('td', {}, e.executorname),
            h('td', {}, e.executortype),
            h('td', {}, EXECUTOR_STATES[e.state] ?? e.state),
            h('td', { title: formatTime(e.lastheardfromtime) }, ago(e.lastheardfromtime)),
            h('td', {}, formatTime(e.commissiontime)),
            h('td', {}, h('code', { title: e.executorid }, short(e.executorid))),
          ),
        ),
        { id: 'executors' },
      ),
    );
  };
  await draw();
  ctx.live(always, draw);
}

// ---------------------------------------------------------------- processes by state

async function processes(ctx) {
  const state = Number(ctx.params.get('state') ?? 0);
  const type = ctx.params.get('type') ?? '';
  const { colonyid } = ctx.session;
  const typeInput = h('input', {
    id: 'filter-type',
    value: type,
    placeholder: 'all executor types',
    list: 'executor-types',
  });
  const stateSelect = h(
    'select',
    { id: 'filter-state' },
    STATES.map((name, i) => h('option', { value: i, selected: i === state }, name)),
  );
  const apply = (event) => {
    event?.preventDefault();
    const query = new URLSearchParams({ state: stateSelect.value });
    if (typeInput.value.trim()) query.set('type', typeInput.value.trim());
    ctx.go(`#/processes?${query}`);
  };
  stateSelect.addEventListener('change', apply);
  const form = h(
    'form',
    { class: 'filters', onsubmit: apply },
    h('label', {}, 'State ', stateSelect),
    h('label', {}, 'Executor type ', typeInput),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const body = h('div', {});
  ctx.main.replaceChildren(h('h2', {}, 'Processes'), form, body);
  const draw = async () => {
    const [list, stats] = await Promise.all([
      // executortype: filtered by the server (a colonies_ha extension), not among 100 fetched
      ctx.api.rpc('getprocessesmsg', { colonyid, state, count: COUNT, executortype: type }),
      ctx.api.rpc('getcolonystatsmsg', { colonyid }),
    ]);
    const types = [...new Set(list.map((p) => p.spec.conditions.executortype))].sort();
    body.replaceChildren(
      statCards(stats, 'processes'),
      h('datalist', { id: 'executor-types' }, types.map((t) => h('option', { value: t }))),
      h('p', { class: 'hint' }, `${list.length} ${STATES[state]} process(es)`, type ? ` of type ${type}` : ''),
      table(
        ['Process', 'Function', 'Executor type', 'State', 'Submitted', 'Started', 'Ended', 'Retries'],
        list.map((p) =>
          h(
            'tr',
            { 'data-processid': p.processid },
            h('td', {}, link(`#/process/${p.processid}`, short(p.processid))),
            h('td', {}, p.spec.funcname),
            h('td', {}, p.spec.conditions.executortype),
            h('td', {}, stateBadge(p.state)),
            h('td', {}, formatTime(p.submissiontime)),
            h('td', {}, formatTime(p.starttime)),
            h('td', {}, formatTime(p.endtime)),
            h('td', {}, String(p.retries)),
          ),
        ),
        { id: 'processes' },
      ),
    );
  };
  await draw();
  ctx.live(always, draw);
}

// ---------------------------------------------------------------- one process

function timeline(p) {
  const running = p.state === 1;
  const steps = [
    ['submitted', 'Submitted', p.submissiontime, `priority ${p.spec.priority}`],
    [
      'waitdeadline',
      'Wait deadline',
      isZeroTime(p.waitdeadline) ? null : p.waitdeadline,
      `fails if not assigned by then (maxwaittime ${p.spec.maxwaittime} s)`,
    ],
    [
      'assigned',
      'Assigned and started',
      isZeroTime(p.starttime) ? null : p.starttime,
      p.assignedexecutorid ? `executor ${short(p.assignedexecutorid)}` : 'not assigned yet',
    ],
    [
      'execdeadline',
      'Execution deadline',
      running && !isZeroTime(p.execdeadline) ? p.execdeadline : null,
      `reset to waiting if not closed by then (maxexectime ${p.spec.maxexectime} s)`,
    ],
    [
      'retries',
      'Retries',
      p.retries > 0 ? '' : null,
      `${p.retries} of ${p.spec.maxretries < 0 ? 'unlimited' : p.spec.maxretries}`,
    ],
    [
      'closed',
      p.state === 3 ? 'Closed: failed' : p.state === 2 ? 'Closed: successful' : 'Closed',
      p.state >= 2 ? p.endtime : null,
      p.state >= 2 ? `ran ${duration(p.starttime, p.endtime)}` : '',
    ],
  ];
  return h(
    'ol',
    { class: 'timeline', id: 'timeline' },
    steps.map(([key, label, time, note]) =>
      h(
        'li',
        { class: time === null ? 'pending' : 'done', 'data-step': key },
        h('span', { class: 'dot' }),
        h('strong', {}, label),
        h('span', { class: 'time' }, time === null ? '—' : time ? formatTime(time) : ''),
        h('span', { class: 'note' }, note),
      ),
    ),
  );
}

function attributesTable(attributes) {
  if (!attributes?.length) return h('p', { class: 'hint' }, 'No attributes.');
  return table(
    ['Type', 'Key', 'Value'],
    attributes.map((a) =>
      h(
        'tr',
        {},
        h('td', {}, ATTRIBUTE_TYPES[a.attributetype] ?? a.attributetype),
        h('td', {}, a.key),
        h('td', {}, a.value),
      ),
    ),
  );
}

const ids = (list) =>
  list?.length ? list.map((id) => [link(`#/process/${id}`, short(id)), ' ']) : '—';

async function process(ctx) {
  const processid = ctx.arg;
  const draw = async () => {
    const p = await ctx.api.rpc('getprocessmsg', { processid });
    const spec = p.spec;
    ctx.main.replaceChildren(
      h('h2', {}, 'Process ', h('code', {}, processid), ' ', h('span', { id: 'process-state' }, stateBadge(p.state))),
      timeline(p),
      h(
        'div',
        { class: 'columns' },
        h(
          'section',
          {},
          h('h3', {}, 'Function'),
          facts([
            ['Function', spec.funcname],
            ['Node name', spec.nodename || '—'],
            ['Executor type', spec.conditions.executortype],
            ['Executor ids', spec.conditions.executorids?.length ? spec.conditions.executorids.map(short).join(', ') : 'any'],
            ['Assigned executor', p.assignedexecutorid ? h('code', {}, p.assignedexecutorid) : '—'],
            ['Workflow', p.processgraphid ? link(`#/workflow/${p.processgraphid}`, short(p.processgraphid)) : '—'],
            ['Parents', ids(p.parents)],
            ['Children', ids(p.children)],
            ['Label', spec.label || '—'],
          ]),
        ),
        h(
          'section',
          {},
          h('h3', {}, 'Arguments'),
          json(spec.args),
          h('h3', {}, 'In'),
          json(p.in ?? []),
          h('h3', {}, 'Out'),
          h('div', { id: 'process-out' }, json(p.out ?? [])),
          h('h3', {}, 'Errors'),
          p.errors?.length
            ? h('ul', { class: 'errors', id: 'process-errors' }, p.errors.map((e) => h('li', {}, e)))
            : h('p', { class: 'hint' }, 'None.'),
        ),
      ),
      h('h3', {}, 'Attributes'),
      attributesTable(p.attributes),
    );
    return p;
  };
  let current = await draw();
  // Follow this process with its own subscription: it fires when the process reaches the
  // next state (or finishes), then the page re-fetches and subscribes for the next one.
  let cancel = null;
  let closed = false;
  const watch = () => {
    if (closed || current.state >= 2 || ctx.session.role !== 'executor') return;
    cancel = ctx.api.subscribe(
      {
        msgtype: 'subscribeprocessmsg',
        processid,
        executortype: current.spec.conditions.executortype,
        state: current.state + 1,
        timeout: 3600,
      },
      () => {},
      async (error) => {
        if (closed) return;
        if (error) await new Promise((resolve) => setTimeout(resolve, 3000));
        current = await draw();
        watch();
      },
    );
  };
  watch();
  ctx.onCleanup(() => {
    closed = true;
    cancel?.();
  });
  // The colony stream also catches a deadline putting it back to waiting (a retry).
  ctx.live(
    (changed) => changed.processid === processid,
    async () => {
      current = await draw();
    },
  );
}

// ---------------------------------------------------------------- workflows

async function workflows(ctx) {
  const state = Number(ctx.params.get('state') ?? 1);
  const { colonyid } = ctx.session;
  const draw = async () => {
    const [list, stats] = await Promise.all([
      ctx.api.rpc('getprocessgraphsmsg', { colonyid, state, count: COUNT }),
      ctx.api.rpc('getcolonystatsmsg', { colonyid }),
    ]);
    ctx.main.replaceChildren(
      h('h2', {}, `Workflows: ${STATES[state]}`),
      statCards(stats, 'workflows'),
      table(
        ['Workflow', 'State', 'Processes', 'Submitted', 'Started', 'Ended'],
        list.map((g) =>
          h(
            'tr',
            { 'data-processgraphid': g.processgraphid },
            h('td', {}, link(`#/workflow/${g.processgraphid}`, short(g.processgraphid))),
            h('td', {}, stateBadge(g.state)),
            h('td', {}, String(g.processids?.length ?? 0)),
            h('td', {}, formatTime(g.submissiontime)),
            h('td', {}, formatTime(g.starttime)),
            h('td', {}, formatTime(g.endtime)),
          ),
        ),
        { id: 'workflows' },
      ),
    );
  };
  await draw();
  ctx.live(always, draw);
}

async function workflow(ctx) {
  const graphid = ctx.arg;
  const draw = async () => {
    const graph = await ctx.api.rpc('getprocessgraphmsg', { processgraphid: graphid });
    const members = await Promise.all(
      graph.processids.map((processid) => ctx.api.rpc('getprocessmsg', { processid })),
    );
    const byId = new Map(members.map((p) => [p.processid, p]));
    const legend = h(
      'div',
      { class: 'legend' },
      STATES.map((name) => h('span', { class: `badge state-${name}` }, name)),
    );
    ctx.main.replaceChildren(
      h('h2', {}, 'Workflow ', h('code', {}, graphid), ' ', h('span', { id: 'workflow-state' }, stateBadge(graph.state))),
      facts([
        ['Submitted', formatTime(graph.submissiontime)],
        ['Started', formatTime(graph.starttime)],
        ['Ended', formatTime(graph.endtime)],
        ['Processes', String(graph.processids.length)],
      ]),
      legend,
      h('div', { class: 'dag-box', id: 'dag' }, drawDag(graph, byId, (id) => ctx.go(`#/process/${id}`))),
      table(
        ['Node', 'State', 'Executor type', 'Started', 'Ended', 'Out'],
        graph.processids.map((id) => {
          const p = byId.get(id);
          return h(
            'tr',
            {},
            h('td', {}, link(`#/process/${id}`, p.spec.nodename || short(id))),
            h('td', {}, stateBadge(p.state)),
            h('td', {}, p.spec.conditions.executortype),
            h('td', {}, formatTime(p.starttime)),
            h('td', {}, formatTime(p.endtime)),
            h('td', {}, JSON.stringify(p.out ?? [])),
          );
        }),
      ),
    );
  };
  await draw();
  ctx.live((changed) => changed.processgraphid === graphid, draw);
}

// ---------------------------------------------------------------- cluster

async function cluster(ctx) {
  if (ctx.session.role !== 'server') {
    ctx.main.replaceChildren(
      h('h2', {}, 'Cluster'),
      h(
        'div',
        { class: 'error-box', role: 'alert', id: 'cluster-needs-server-key' },
        'The cluster view (replicas, leader, Raft term, fencing epoch) is only for the server ',
        "owner: log out and log in with the server's private key (COLONIES_SERVER_PRVKEY).",
      ),
    );
    return;
  }
  const draw = async () => {
    const info = await ctx.api.rpc('getclustermsg');
    const leader = info.leader?.raftaddress;
    ctx.main.replaceChildren(
      h('h2', {}, 'Cluster'),
      facts([
        ['Leader', info.leader?.name ?? 'none known'],
        ['Raft term', String(info.term ?? '—')],
        ['Fencing epoch', String(info.epoch ?? '—')],
        ['This replica', String(info.state ?? '—')],
      ]),
      table(
        ['Replica', 'API', 'Raft address', 'Role'],
        (info.nodes ?? []).map((n) =>
          h(
            'tr',
            { class: n.raftaddress === leader ? 'leader' : '' },
            h('td', {}, n.name),
            h('td', {}, n.apiurl || `${n.host}:${n.port}`),
            h('td', {}, n.raftaddress),
            h('td', {}, n.raftaddress === leader ? 'leader' : 'follower'),
          ),
        ),
        { id: 'cluster' },
      ),
    );
  };
  await draw();
  ctx.live(always, draw);
}

export const PAGES = {
  '': overview,
  colonies,
  executors,
  processes,
  process,
  workflows,
  workflow,
  cluster,
};
