// The Node host end to end, through the real compiled component against the emulator: the
// CLI prints what cw-host prints, the wall-clock bound stops a call that never returns and the
// host keeps serving, the caller's event loop stays free, the memory cap applies, and the
// CLI's exit statuses follow cw-host's. The policy rules themselves are in the conformance
// suite (conformance.test.mjs), which all three hosts run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Emulator, HERE, cwHost, nodeHost, tempDir, writeConfig } from './harness.mjs';
import { open, HostError } from '../src/index.mjs';

async function withEmulator(fn, seed) {
  const emu = await Emulator.start(seed);
  const dir = tempDir();
  try {
    return await fn(emu, dir, writeConfig(dir, emu));
  } finally {
    emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('index, add and remove print the same JSON as cw-host, item for item', () => withEmulator(async (emu, dir, config) => {
  for (const feature of ['watchlist', 'ratings', 'history']) {
    const rust = cwHost(['--config', config, '--state-dir', path.join(dir, 'rs'), 'index', feature]);
    const node = nodeHost(['--config', config, '--state-dir', path.join(dir, 'node'), 'index', feature]);
    assert.equal(rust.code, 0, rust.stderr);
    assert.equal(node.code, 0, node.stderr);
    assert.ok(Object.keys(JSON.parse(node.stdout)).length > 0, feature);
    assert.equal(node.stdout, rust.stdout, `${feature}: the Node index differs from cw-host's`);
  }
  const items = JSON.stringify([
    { type: 'movie', title: 'Sample Movie 1', year: 1991, ids: { tmdb: 100001 } },
    { type: 'movie', title: 'Unknown', year: 2001, ids: { tmdb: 999999991 }, library_id: 7 },
  ]);
  for (const op of ['add', 'remove']) {
    const rust = cwHost(['--config', config, '--state-dir', path.join(dir, 'rs'), op, 'watchlist', '--dry-run'], items);
    const node = nodeHost(['--config', config, '--state-dir', path.join(dir, 'node'), op, 'watchlist', '--dry-run'], items);
    assert.equal(node.code, 0, node.stderr);
    assert.equal(node.stdout, rust.stdout, `${op} --dry-run differs`);
  }
}));

test('the CLI exit statuses and error JSON follow cw-host', () => withEmulator(async (emu, dir, config) => {
  const usage = nodeHost(['--config', config, 'index', 'collection']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown feature "collection"/);
  assert.equal(usage.stdout, '');
  const rust = cwHost(['--config', config, '--state-dir', path.join(dir, 'rs'), 'index', 'playlists']);
  const node = nodeHost(['--config', config, '--state-dir', path.join(dir, 'node'), 'index', 'playlists']);
  assert.equal(node.code, 1);
  assert.equal(node.stdout, rust.stdout);
  assert.equal(JSON.parse(node.stdout).error.kind, 'unsupported');
  const missing = nodeHost(['--config', path.join(dir, 'nope.json'), 'health']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /not found/);
}));

test('a call that never returns is stopped at the wall-clock bound with a typed error; the host keeps serving', () => withEmulator(async (emu, dir) => {
  const config = writeConfig(dir, emu, { attack: 'spin' });
  const lines = [];
  const s = await open({ config, stateDir: path.join(dir, 'st'), component: 'hostile', limits: { callTimeoutMs: 1500 }, onLog: (l) => lines.push(l) });
  try {
    const started = Date.now();
    await assert.rejects(s.buildIndexJson('watchlist'), (e) => e instanceof HostError && e.kind === 'limit' && /wall-clock limit of 1500 ms/.test(e.message));
    console.log(`spin stopped after ${Date.now() - started} ms (limit 1500 ms)`);
    assert.ok(lines.some((l) => l.startsWith('[TRAKT:module] ERROR call_stopped kind=limit')), lines.join('\n'));
    // A fresh instance answers the next call, configured again.
    assert.equal((await s.manifest()).name, 'HOSTILE');
    await assert.rejects(s.buildIndexJson('watchlist'), (e) => e.kind === 'limit');
  } finally {
    await s.close();
  }
}));

test('the caller\'s event loop runs while the instance waits on HTTP', () => withEmulator(async (emu, dir, config) => {
  await emu.addFault({ when: { method: 'GET', path: '/sync/watchlist' }, action: { kind: 'delay', ms: 400 } });
  const s = await open({ config, stateDir: path.join(dir, 'st') });
  try {
    let ticks = 0;
    const timer = setInterval(() => { ticks += 1; }, 20);
    const index = await s.buildIndex('watchlist');
    clearInterval(timer);
    assert.equal(Object.keys(index).length, 29);
    assert.ok(ticks >= 5, `only ${ticks} ticks of a 20 ms timer during a 400 ms wait`);
  } finally {
    await s.close();
  }
}));

test('the memory cap is written into the component: below its initial memory it does not load', () => withEmulator(async (emu, dir, config) => {
  await assert.rejects(
    open({ config, stateDir: path.join(dir, 'st'), limits: { memoryBytes: 64 * 1024 } }),
    (e) => e instanceof HostError && e.kind === 'host' && /above the memory limit of 1 pages/.test(e.message),
  );
  // At the default cap the same component loads and works.
  const s = await open({ config, stateDir: path.join(dir, 'st') });
  try {
    assert.equal(Object.keys(await s.buildIndex('ratings')).length, 7);
  } finally {
    await s.close();
  }
}));

test('guest stdout and stderr go to the log, escaped, never to the process stdout', () => withEmulator(async (emu, dir) => {
  const config = writeConfig(dir, emu, { attack: 'log_forge' });
  const r = nodeHost(['--config', config, '--state-dir', path.join(dir, 'st'), '--component', 'hostile', 'health']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotThrow(() => JSON.parse(r.stdout), 'stdout carries only JSON');
  const output = r.stderr.split('\n').filter((l) => l.includes('guest_output'));
  assert.ok(output.length >= 2, r.stderr);
  assert.ok(output.every((l) => l.startsWith('[TRAKT:module] WARN guest_output line=') && !/\u001b/.test(l)), output.join('\n'));
}));

test('an encrypted config is one clear error, never ciphertext sent to Trakt', () => withEmulator(async (emu, dir) => {
  const config = writeConfig(dir, emu, { access_token: 'enc:v1:abcdef' });
  const r = nodeHost(['--config', config, 'health']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /trakt\.access_token encrypted \(enc:v1:\)/);
  assert.deepEqual(await emu.requests(), []);
}));

test('preflight: a pinned digest must match, and signature checks are refused rather than skipped', () => withEmulator(async (emu, dir) => {
  const sha = fs.readFileSync(path.join(HERE, '..', 'gen', 'adapter', 'source.sha256'), 'utf8').trim();
  const pinned = nodeHost(['--config', writeConfig(dir, emu, { component_sha256: `sha256:${sha.toUpperCase()}` }), 'health']);
  assert.equal(pinned.code, 0, pinned.stderr);
  const before = (await emu.requests()).length;
  const other = nodeHost(['--config', writeConfig(dir, emu, { component_sha256: '0'.repeat(64) }), 'health']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, new RegExp(`its sha256 is ${sha}, but trakt.component_sha256 pins 0{64}`));
  const keys = nodeHost(['--config', writeConfig(dir, emu, { component_trusted_keys: ['publisher.pub'] }), 'health']);
  assert.equal(keys.code, 2);
  assert.match(keys.stderr, /cannot verify component signatures yet/);
  assert.equal((await emu.requests()).length, before, 'nothing was sent for a refused component');
}));
