// The dashboard shell: log in with a key, route #/... to a page, keep pages live.
//
// The key is kept in this tab's sessionStorage (so a reload does not log out) and is only
// ever used to sign requests here; it is never sent anywhere.
import { Api, ApiError } from './api.js';
import { isHex64 } from './crypto.js';
import { h, short } from './dom.js';
import { PAGES } from './pages.js';

const KEY_STORE = 'colonies-dashboard-key';
const COLONY_STORE = 'colonies-dashboard-colony';
const SUBSCRIPTION_SECONDS = 3600; // the server's maximum; subscriptions are renewed after
const RETRY_MS = 3000;
const POLL_MS = 3000;

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const liveStatus = document.getElementById('live-status');

let session = null; // {api, role, colonyid, executor}
let feed = null;
let page = null; // cleanup and refresh hooks of the page on screen

// ---------------------------------------------------------------- login and roles

/**
 * Find out what the key may see.  A colony key (its id is the colony id) owns the colony;
 * an approved executor key is a member of its colony; the server owner's key lists colonies.
 */
async function identify(api, colonyid) {
  if (colonyid && api.id === colonyid) return { role: 'colony', colonyid };
  let memberError = null;
  try {
    const executor = await api.rpc('getexecutormsg', { executorid: api.id });
    if (colonyid && executor.colonyid !== colonyid) {
      throw new ApiError(`this executor belongs to colony ${executor.colonyid}, not ${colonyid}`, 403);
    }
    return { role: 'executor', colonyid: executor.colonyid, executor };
  } catch (err) {
    if (err.status === 0) throw err;
    memberError = err;
  }
  try {
    await api.rpc('getcoloniesmsg');
    return { role: 'server', colonyid: colonyid || '' };
  } catch (err) {
    if (err.status === 0) throw err;
  }
  throw new ApiError(
    `the key with id ${api.id} is not the server owner's key, not the key of ` +
      `${colonyid ? `colony ${colonyid}` : 'the colony given'}, and not an approved executor's ` +
      `(server said: ${memberError?.message ?? 'no'})`,
    403,
  );
}

async function login(prvkey, colonyid) {
  prvkey = prvkey.trim().toLowerCase();
  colonyid = colonyid.trim().toLowerCase();
  if (!isHex64(prvkey)) throw new Error('the private key must be 64 hexadecimal characters');
  if (colonyid && !isHex64(colonyid)) throw new Error('a colony id is 64 hexadecimal characters');
  const api = new Api(prvkey);
  const found = await identify(api, colonyid);
  session = { api, ...found };
  sessionStorage.setItem(KEY_STORE, prvkey);
  sessionStorage.setItem(COLONY_STORE, colonyid);
  startFeed();
}

function logout() {
  sessionStorage.removeItem(KEY_STORE);
  sessionStorage.removeItem(COLONY_STORE);
  stopFeed();
  session = null;
  // Changing the hash routes by itself; routing twice would swap the login form under the user.
  if (window.location.hash.replace(/^#\/?/, '') !== '') window.location.hash = '#/';
  else route();
}

function loginPage(message = '') {
  const keyInput = h('input', {
    id: 'login-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: '64 hex characters',
    required: true,
  });
  const colonyInput = h('input', {
    id: 'login-colony',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'optional for executor and server keys',
  });
  const error = h('p', { class: 'error', id: 'login-error', role: 'alert' }, message);
  const button = h('button', { type: 'submit', id: 'login-submit' }, 'Log in');
  const form = h(
    'form',
    { class: 'login', id: 'login-form' },
    h('h2', {}, 'Log in'),
    h('label', {}, 'Private key', keyInput),
    h('label', {}, 'Colony id', colonyInput),
    button,
    error,
    h(
      'p',
      { class: 'hint' },
      'The key signs requests inside this page and is never sent anywhere. ',
      'Executor key: processes and workflows of its colony, live. Colony key (with its ',
      'colony id): executors, processes and statistics. Server key: colonies, statistics ',
      'and the cluster. `colonies-ha dev` prints all three.',
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = 'Checking the key…';
    try {
      await login(keyInput.value, colonyInput.value);
      route();
    } catch (err) {
      error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------- live updates

/**
 * One subscribeprocessesmsg stream per state of the caller's colony: every change reaches
 * the page on screen, which re-fetches what it shows.  Executors and the colony's owner may
 * subscribe; the server owner's pages (colonies, cluster) have no stream and poll.
 */
function startFeed() {
  stopFeed();
  const listeners = new Set();
  const cancels = [];
  let stopped = false;
  const notify = (process) => listeners.forEach((fn) => fn(process));
  const setStatus = (text, kind) => {
    liveStatus.textContent = text;
    liveStatus.className = kind;
  };
  if (session.role === 'server') {
    const timer = setInterval(() => page?.refresh?.(), POLL_MS);
    setStatus(`refreshing every ${POLL_MS / 1000} s (live updates need a colony or executor key)`, 'poll');
    feed = { listeners, stop: () => clearInterval(timer) };
    return;
  }
  let open = 0;
  const openStream = (state) => {
    if (stopped) return;
    const cancel = session.api.subscribe(
      { msgtype: 'subscribeprocessesmsg', executortype: '', state, timeout: SUBSCRIPTION_SECONDS },
      notify,
      (error) => {
        if (stopped) return;
        if (error) setStatus(`live updates interrupted: ${error.message}; retrying`, 'down');
        setTimeout(() => openStream(state), error ? RETRY_MS : 0);
      },
    );
    cancels[state] = cancel;
    open += 1;
    if (open >= 4) setStatus('live', 'live');
  };
  [0, 1, 2, 3].forEach(openStream);
  feed = {
    listeners,
    stop: () => {
      stopped = true;
      cancels.forEach((cancel) => cancel?.());
    },
  };
}

function stopFeed() {
  feed?.stop();
  feed = null;
  liveStatus.textContent = '';
}

// ---------------------------------------------------------------- routing

function parseHash() {
  const [path, query = ''] = window.location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  return { name: parts[0] ?? '', arg: parts[1] ?? '', params: new URLSearchParams(query) };
}

function renderNav() {
  nav.replaceChildren();
  who.replaceChildren();
  document.getElementById('logout').hidden = !session;
  if (!session) return;
  const links = { server: [['', 'Colonies'], ['cluster', 'Cluster']] }[session.role] ?? [
    ['', 'Colony'],
    ['executors', 'Executors'],
    ['processes', 'Processes'],
    ['workflows', 'Workflows'],
    ['cluster', 'Cluster'],
  ];
  const current = parseHash().name;
  for (const [name, label] of links) {
    nav.append(h('a', { href: `#/${name}`, class: current === name ? 'current' : '' }, label));
  }
  const role = { server: 'server owner', colony: 'colony owner', executor: 'executor' }[session.role];
  who.append(`${role} ${short(session.api.id)}`);
  if (session.colonyid) who.append(` · colony ${short(session.colonyid)}`);
  who.title = session.api.id;
}

/** Coalesce bursts of events into one re-fetch, and never run two at once. */
function serialised(fn) {
  let running = null;
  let again = false;
  let timer = null;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = fn().catch((err) => console.error(err));
    await running;
    running = null;
    if (again) {
      again = false;
      run();
    }
  };
  return () => {
    clearTimeout(timer);
    timer = setTimeout(run, 50);
  };
}

async function route() {
  page?.cleanup();
  page = null;
  renderNav();
  if (!session) {
    main.replaceChildren(loginPage());
    return;
  }
  const { name, arg, params } = parseHash();
  const render = PAGES[name] ?? PAGES[''];
  const cleanups = [];
  let live = null;
  const ctx = {
    api: session.api,
    session,
    arg,
    params,
    main,
    go: (hash) => {
      window.location.hash = hash;
    },
    onCleanup: (fn) => cleanups.push(fn),
    /** Re-fetch with `refresh` whenever a live event passes `filter` (or on each poll). */
    live: (filter, refresh) => {
      const debounced = serialised(refresh);
      live = { refresh: debounced };
      const listener = (process) => filter(process) && debounced();
      feed?.listeners.add(listener);
      cleanups.push(() => feed?.listeners.delete(listener));
    },
  };
  const current = { cleanup: () => cleanups.forEach((fn) => fn()), refresh: () => live?.refresh() };
  page = current;
  main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  try {
    await render(ctx);
  } catch (err) {
    if (page !== current) return;
    main.replaceChildren(
      h('div', { class: 'error-box', role: 'alert' }, h('strong', {}, 'The server refused: '), err.message),
    );
  }
}

async function start() {
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  const stored = sessionStorage.getItem(KEY_STORE);
  if (stored) {
    try {
      await login(stored, sessionStorage.getItem(COLONY_STORE) ?? '');
    } catch (err) {
      session = null;
      main.replaceChildren(loginPage(err.message));
      return;
    }
  }
  route();
}

start();
