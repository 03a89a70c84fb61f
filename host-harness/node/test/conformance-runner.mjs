// The Node runner of the conformance suite (tests/conformance/README.md): sets up each
// scenario (emulator, config, state directory, faults), makes its calls through this host's
// API, and checks the outputs, the emulator's request log, config.json, the state files and
// the log, as the Rust (tests/tests/conformance.rs) and Python runners do.
import fs from 'node:fs';
import path from 'node:path';
import { Emulator, REPO, tempDir } from './harness.mjs';
import { open, AdapterError, HostError, UsageError } from '../src/index.mjs';
import { errorToJson } from '../src/items.mjs';

export const SCENARIOS = path.join(REPO, 'tests', 'conformance', 'scenarios');

export function scenarios() {
  return fs.readdirSync(SCENARIOS).filter((f) => f.endsWith('.json')).sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), ...JSON.parse(fs.readFileSync(path.join(SCENARIOS, f), 'utf8')) }));
}

function substitute(value, vars) {
  if (typeof value === 'string') return value.replace(/\{([a-z_.]+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  return value;
}

/** `a.b.0.c`; a `$json` segment parses the current string. "" is the value itself. */
export function resolve(value, p) {
  let cur = value;
  for (const seg of p === '' ? [] : p.split('.')) {
    if (seg === '$json') cur = JSON.parse(cur);
    else if (cur === null || cur === undefined) return undefined;
    else cur = cur[seg];
  }
  return cur;
}

export function check(value, c, where) {
  const got = resolve(value, c.path);
  const show = `${where}: ${c.path || '(value)'} = ${JSON.stringify(got)?.slice(0, 400)}`;
  const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  if ('equals' in c && !eq(got, c.equals)) throw new Error(`${show}, expected ${JSON.stringify(c.equals)}`);
  if ('not_equals' in c && eq(got, c.not_equals)) throw new Error(`${show}, expected anything else`);
  if ('contains' in c && !(typeof got === 'string' ? got.includes(c.contains) : Array.isArray(got) && got.some((x) => eq(x, c.contains)))) {
    throw new Error(`${show}, expected it to contain ${JSON.stringify(c.contains)}`);
  }
  if ('not_contains' in c && (typeof got === 'string' ? got.includes(c.not_contains) : Array.isArray(got) && got.some((x) => eq(x, c.not_contains)))) {
    throw new Error(`${show}, expected it not to contain ${JSON.stringify(c.not_contains)}`);
  }
  if ('len' in c) {
    const n = Array.isArray(got) || typeof got === 'string' ? got.length : got && typeof got === 'object' ? Object.keys(got).length : undefined;
    if (n !== c.len) throw new Error(`${show}, expected length ${c.len} (got ${n})`);
  }
}

async function call(session, c) {
  try {
    switch (c.command) {
      case 'manifest': return await session.manifest();
      case 'health': return await session.health();
      case 'index': return await session.buildIndex(c.feature);
      case 'add': case 'remove': return await session.write(c.command, c.feature, c.items ?? [], c.dry_run ?? false);
      default: throw new Error(`unknown command ${c.command}`);
    }
  } catch (e) {
    if (e instanceof AdapterError) return { ok: false, error: errorToJson(e.payload) };
    if (e instanceof HostError) return { ok: false, error: { kind: e.kind, message: e.message } };
    if (e instanceof UsageError) return { usage_error: e.message };
    throw e;
  }
}

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Run one scenario; throws on the first expectation it misses. */
export async function run(sc) {
  const emu = await Emulator.start(sc.seed);
  const dir = tempDir('cw-conf-');
  const logLines = [];
  let session;
  try {
    const stateDir = path.join(dir, 'state');
    const authority = new URL(emu.url).host;
    const vars = {
      emulator: emu.url, emulator_authority: authority, state_dir: stateDir,
      ...Object.fromEntries(Object.entries(emu.trakt).map(([k, v]) => [`initial.${k}`, v])),
    };
    const s = substitute(sc, vars);
    const trakt = { ...emu.trakt, timeout: 10, max_retries: 3, rate_limit: { enabled: false }, ...(s.trakt ?? {}) };
    if (s.api_path) trakt.api_url = `${emu.url}${s.api_path}`;
    const configPath = path.join(dir, 'config.json');
    fs.writeFileSync(configPath, JSON.stringify({ version: 1, plex: { account_token: 'plex-secret' }, trakt }, null, 2));
    for (const d of s.setup?.state_dirs ?? []) fs.mkdirSync(path.join(stateDir, d), { recursive: true });
    for (const f of s.faults ?? []) await emu.addFault(f);
    session = await open({
      config: configPath,
      stateDir,
      component: s.component ?? 'adapter',
      logLevel: 'debug',
      onLog: (line) => logLines.push(line),
      limits: s.host?.call_timeout_secs ? { callTimeoutMs: s.host.call_timeout_secs * 1000 } : undefined,
    });
    for (const [i, c] of (s.calls ?? []).entries()) {
      const out = await call(session, c);
      for (const e of c.expect ?? []) check(out, e, `call ${i} (${c.command})`);
    }
    await session.close();
    session = undefined;
    if (s.requests) {
      const log = await emu.requests();
      for (const r of s.requests) {
        const hits = log.filter((x) => (!r.method || x.method === r.method) && (!r.path || x.path === r.path));
        const what = `requests ${r.method ?? '*'} ${r.path ?? '*'}`;
        if ('count' in r && hits.length !== r.count) throw new Error(`${what}: ${hits.length}, expected ${r.count}: ${JSON.stringify(log.map((x) => `${x.method} ${x.path} ${x.status}`))}`);
        for (const h of hits) {
          const headers = new Map(h.headers.map(([k, v]) => [k.toLowerCase(), v]));
          for (const [k, v] of Object.entries(r.headers ?? {})) {
            if (headers.get(k) !== v) throw new Error(`${what}: header ${k} = ${JSON.stringify(headers.get(k))}, expected ${JSON.stringify(v)}`);
          }
          for (const k of r.headers_absent ?? []) {
            if (headers.has(k)) throw new Error(`${what}: header ${k} present (${JSON.stringify(headers.get(k))})`);
          }
        }
      }
    }
    if (s.config) {
      const cfg = JSON.parse(fs.readFileSync(configPath, 'utf8'));
      for (const c of s.config) check(cfg, c, 'config.json');
    }
    if (s.state_files) {
      const names = fs.existsSync(stateDir) ? fs.readdirSync(stateDir).filter((n) => !(s.setup?.state_dirs ?? []).includes(n)) : [];
      if (s.state_files.empty && names.length) throw new Error(`state files: ${names}, expected none`);
      if (s.state_files.not_empty && !names.length) throw new Error('state files: none, expected some');
      for (const p of s.state_files.none_start_with ?? []) {
        if (names.some((n) => n.startsWith(p))) throw new Error(`state files ${names}: one starts with ${p}`);
      }
    }
    if (s.log) {
      const lines = logLines.join('\n').split('\n');
      if (s.log.no_control_chars && lines.some((l) => CONTROL.test(l))) throw new Error(`log: a line holds a control character: ${JSON.stringify(lines.find((l) => CONTROL.test(l)))}`);
      for (const p of s.log.no_line_starts_with ?? []) {
        if (lines.some((l) => l.startsWith(p))) throw new Error(`log: a line starts with ${p}`);
      }
      for (const t of s.log.contains ?? []) {
        if (!lines.some((l) => l.includes(t))) throw new Error(`log: no line contains ${t}: ${lines.join('\n')}`);
      }
    }
  } finally {
    if (session) await session.close();
    emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
