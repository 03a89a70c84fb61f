// One adapter instance in its own thread (adapter.mjs starts it): the transpiled component,
// the five crosswatch:sync imports under the sandbox policy, and WASI without environment,
// arguments, working directory or stdin. The main thread bounds every call's wall clock by
// terminating this thread (jco has no fuel or epochs).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cli, clocks, io } from '@bytecodealliance/preview2-shim';
import { ALLOWED_METHODS, Origin, Policy, SIGNED_HEADERS, hostOwnedHeader } from './policy.mjs';
import { StateStore } from './state.mjs';
import { enabled, formatLine } from './log.mjs';
import { SyncHttp } from './sync-http.mjs';
import { capMemory } from './memory-cap.mjs';

const W = workerData;
const policy = new Policy(Origin.parse(W.apiUrl), Origin.parse(W.oauthUrl));
const DEFAULT_TIMEOUT_MS = 30_000;
const REFRESH_SCRIPT = fileURLToPath(new URL('./refresh.mjs', import.meta.url));

function log(level, feature, event, fields) {
  if (enabled(level, W.logLevel)) parentPort.postMessage({ type: 'log', line: formatLine(level, feature, event, fields) });
}

// --- credentials and the calls' bookkeeping -------------------------------------------------
const cred = { ...W.creds, generation: 0, usedGeneration: 0 };
let unanswered401s = 0;
let deadline = Infinity;
const httpClient = new SyncHttp();
const store = new StateStore(W.stateDir, { quotaBytes: W.limits.stateQuotaBytes, maxFiles: W.limits.stateMaxFiles, log });

const fault = (tag, val) => ({ payload: { tag, val } });

function send(req) {
  const method = ALLOWED_METHODS.find((m) => m === String(req.method).toUpperCase());
  if (!method) {
    throw fault('invalid-request', `HTTP method ${JSON.stringify(req.method)} is not allowed: the host sends only GET, POST, PUT and DELETE`);
  }
  let checked;
  try {
    checked = policy.check(req.url);
  } catch (e) {
    throw fault('denied', `refused by host policy: ${e.message}`);
  }
  const headers = req.headers.filter(([k]) => !hostOwnedHeader(k));
  let signed = headers;
  if (checked.destination === 'api') {
    signed = headers.filter(([k]) => !SIGNED_HEADERS.includes(k.trim().toLowerCase()));
    cred.usedGeneration = cred.generation;
    signed.push(['trakt-api-key', cred.clientId], ['Authorization', `Bearer ${cred.accessToken}`]);
    if (!signed.some(([k]) => k.toLowerCase() === 'trakt-api-version')) signed.push(['trakt-api-version', '2']);
  }
  if (!signed.some(([k]) => k.toLowerCase() === 'user-agent')) signed.push(['User-Agent', W.userAgent]);
  if (req.body.length || method !== 'GET') signed.push(['Content-Length', String(req.body.length)]);
  let timeoutMs = Math.min(req.timeoutMs || DEFAULT_TIMEOUT_MS, W.limits.httpTimeoutCapMs);
  const left = deadline - Date.now();
  if (left <= 0) throw fault('timeout', 'not sent: the call\'s wall-clock limit has been reached');
  timeoutMs = Math.max(1, Math.min(timeoutMs, left));
  const r = httpClient.send({
    method, url: checked.url.href, headers: signed.flat(), body: req.body, timeoutMs,
  });
  if (r.err) throw { payload: r.err };
  if (checked.destination === 'api' && r.ok.status === 401) unanswered401s += 1;
  return r.ok;
}

/** The refresh grant (or adoption of a pair another process saved), under the config lock. */
function runRefresh(reason) {
  if (reason === 'rejected' && cred.generation > cred.usedGeneration) {
    log('debug', 'auth', 'token_refresh_skipped', [['reason', 'already_refreshed']]);
    return;
  }
  const input = JSON.stringify({ store: W.store, oauthBase: policy.oauth.baseUrl(), creds: cred, userAgent: W.userAgent });
  const args = [REFRESH_SCRIPT];
  const cmd = W.store ? 'flock' : process.execPath;
  const argv = W.store ? ['-x', '-w', '60', `${W.store.path}.lock`, process.execPath, ...args] : args;
  const p = spawnSync(cmd, argv, { input, encoding: 'utf8', env: {}, timeout: 90_000 });
  let out;
  try {
    out = JSON.parse(p.stdout);
  } catch {
    const why = p.error ? p.error.message : (p.stderr || `exit ${p.status}`).trim().slice(0, 300);
    log('error', 'auth', 'token_refresh_failed', [['result', 'failed'], ['error', why]]);
    throw fault('failed', `the token refresh could not run: ${why}`);
  }
  if (out.err) {
    const result = { 'invalid-grant': 'rejected', 'not-configured': 'not_configured' }[out.err.tag] ?? 'failed';
    log('error', 'auth', 'token_refresh_failed', [['result', result], ['error', out.err.val]]);
    throw { payload: out.err };
  }
  const u = out.ok.update;
  if (out.ok.saveError) log('error', 'auth', 'token_save_failed', [['error', out.ok.saveError]]);
  Object.assign(cred, { accessToken: u.accessToken, refreshToken: u.refreshToken, expiresAt: u.expiresAt, createdAt: u.createdAt });
  cred.generation += 1;
  // The main thread keeps the pair for the next instance (after a stopped call).
  parentPort.postMessage({ type: 'creds', creds: { clientId: cred.clientId, clientSecret: cred.clientSecret, accessToken: cred.accessToken, refreshToken: cred.refreshToken, expiresAt: cred.expiresAt, createdAt: cred.createdAt } });
  if (out.ok.adopted) log('info', 'auth', 'token_adopted', [['source', 'config'], ['expires_at', String(u.expiresAt)]]);
  else log('info', 'auth', 'token_refreshed', [['reason', reason], ['expires_at', String(u.expiresAt)]]);
}

function refresh() {
  // A grant only against a 401 this host returned during the current call, one per 401.
  if (unanswered401s <= 0) {
    log('warn', 'auth', 'token_refresh_skipped', [['reason', 'no_401']]);
    return;
  }
  unanswered401s -= 1;
  runRefresh('rejected');
}

function needsRefresh(now, margin) {
  if (cred.expiresAt <= 0) return false;
  const tenth = cred.createdAt > 0 && cred.expiresAt > cred.createdAt ? Math.floor((cred.expiresAt - cred.createdAt) / 10) : 0;
  return cred.expiresAt - now < Math.max(margin, tenth);
}

function stateCall(fn) {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      if (e.tag) throw fault(e.tag, e.message);
      throw fault('io', `state: ${e.message}`);
    }
  };
}

const host = {
  http: { send },
  auth: { refresh },
  state: {
    read: stateCall((n) => store.read(n)),
    write: stateCall((n, c) => store.write(n, c)),
    delete: stateCall((n) => store.delete(n)),
    listNames: stateCall(() => store.listNames()),
  },
  log: { event: (level, feature, event, fields) => log(level, feature, event, fields) },
  progress: {
    report: (feature, phase, done, total) => parentPort.postMessage({
      type: 'progress', feature, phase, done: Number(done), total: total === undefined ? undefined : Number(total),
    }),
  },
};

// No environment, no arguments, no working directory, no stdin: preview2-shim would hand the
// guest all of process.env and process.argv. Guest stdout/stderr go to this thread's streams, which the
// main thread reads into the log (adapter.mjs).
// preview2-shim's stdin reads fd 0 of the whole process (its io thread), whatever the worker's
// own stdin is: the guest gets a stream that is closed from the start instead.
class ClosedStdin extends io.streams.InputStream {
  read() { throw { tag: 'closed' }; }
  blockingRead() { throw { tag: 'closed' }; }
  skip() { throw { tag: 'closed' }; }
  blockingSkip() { throw { tag: 'closed' }; }
  subscribe() { return clocks.monotonicClock.subscribeDuration(0n); }
}
const stdin = new ClosedStdin();

const wasi = {
  'wasi:cli/environment': { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
  'wasi:cli/exit': cli.exit,
  'wasi:cli/stdin': { getStdin: () => stdin },
  'wasi:cli/stdout': cli.stdout,
  'wasi:cli/stderr': cli.stderr,
  'wasi:cli/terminal-input': cli.terminalInput,
  'wasi:cli/terminal-output': cli.terminalOutput,
  'wasi:cli/terminal-stdin': cli.terminalStdin,
  'wasi:cli/terminal-stdout': cli.terminalStdout,
  'wasi:cli/terminal-stderr': cli.terminalStderr,
  'wasi:clocks/monotonic-clock': clocks.monotonicClock,
  'wasi:clocks/wall-clock': clocks.wallClock,
  'wasi:io/error': io.error,
  'wasi:io/poll': io.poll,
  'wasi:io/streams': io.streams,
};
const ours = {
  'crosswatch:sync/http': host.http,
  'crosswatch:sync/auth': host.auth,
  'crosswatch:sync/state': host.state,
  'crosswatch:sync/log': host.log,
  'crosswatch:sync/progress': host.progress,
  'crosswatch:sync/types': {},
};

/** The keys the glue reads, versioned or not (jco issue 708), each mapped to ours. */
function importObject(glue) {
  const imports = {};
  const wanted = new Set([...glue.matchAll(/imports\[['"]([^'"]+)['"]\]/g)].map((m) => m[1]));
  for (const key of wanted) {
    const bare = key.replace(/@[^/]*$/, '');
    const impl = ours[bare] ?? wasi[bare];
    if (!impl) throw new Error(`the component imports ${key}, which this host does not provide`);
    imports[key] = impl;
  }
  return imports;
}

async function instantiate() {
  const glueFile = path.join(W.genDir, 'component.js');
  const { instantiate: inst } = await import(pathToFileURL(glueFile).href);
  const getCoreModule = (file) => {
    const bytes = fs.readFileSync(path.join(W.genDir, file));
    return WebAssembly.compile(capMemory(bytes, W.limits.memoryBytes));
  };
  const exports = await inst(getCoreModule, importObject(fs.readFileSync(glueFile, 'utf8')));
  return exports.syncAdapter ?? exports['crosswatch:sync/sync-adapter@0.1.0'];
}

const adapter = await instantiate();

const ops = {
  manifest: () => adapter.manifest(),
  configure: (json) => adapter.configure(json),
  health: () => adapter.health(),
  buildIndex: (f) => adapter.buildIndex(f),
  buildIndexJson: (f) => adapter.buildIndexJson(f),
  add: (f, items, dry) => adapter.add(f, items, dry),
  remove: (f, items, dry) => adapter.remove(f, items, dry),
  lastLedger: () => adapter.lastLedger(),
  // Host-side, no guest code: refresh ahead of expiry (cw-host Session::open).
  refreshIfExpiring: (margin) => {
    if (!needsRefresh(Math.floor(Date.now() / 1000), margin)) return false;
    try {
      runRefresh('expiring');
    } catch (e) {
      return { fault: e.payload };
    }
    return true;
  },
};

parentPort.on('message', ({ id, op, args, deadline: d }) => {
  deadline = d ?? Infinity;
  unanswered401s = 0;
  try {
    parentPort.postMessage({ id, ok: ops[op](...args) });
  } catch (e) {
    // jco 1.35 throws an export's `err` value itself (the adapter-error variant {tag, val});
    // older glue wrapped it in a ComponentError with `.payload`. Anything else is a trap.
    if (e && typeof e === 'object' && !(e instanceof Error) && typeof e.tag === 'string') parentPort.postMessage({ id, adapterError: e });
    else if (e && e.payload !== undefined) parentPort.postMessage({ id, adapterError: e.payload });
    else parentPort.postMessage({ id, trap: String(e?.stack ?? e) });
  }
});
parentPort.postMessage({ type: 'ready' });
