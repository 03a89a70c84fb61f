// The Node host's policy pieces on their own, with the cases of the Rust host's unit tests
// (host-harness/host/src/policy.rs, imports/log.rs, imports/state.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Origin, Policy, hostOwnedHeader } from '../src/policy.mjs';
import { formatLine } from '../src/log.mjs';
import { StateStore, validateName } from '../src/state.mjs';
import { capMemory } from '../src/memory-cap.mjs';
import { tempDir } from './harness.mjs';

test('origins normalise default ports and case; bad ones are named', () => {
  assert.equal(Origin.parse('HTTPS://API.Trakt.tv:443/').baseUrl(), 'https://api.trakt.tv');
  assert.equal(Origin.parse('http://127.0.0.1:8080/prefix/').baseUrl(), 'http://127.0.0.1:8080/prefix');
  assert.throws(() => Origin.parse('ftp://x'), /http:\/\//);
  assert.throws(() => Origin.parse('https://u:p@x'), /user info/);
  assert.throws(() => Origin.parse('not a url'), /not a URL/);
  assert.throws(() => Origin.parse('https://x/?a=1'), /query/);
});

test('only the two origins pass, and the API base path holds', () => {
  const p = new Policy(Origin.parse('https://api.trakt.tv'), Origin.parse('https://auth.trakt.tv'));
  assert.equal(p.check('https://api.trakt.tv/sync/watchlist?page=1').destination, 'api');
  assert.equal(p.check('https://auth.trakt.tv/oauth/token').destination, 'oauth');
  for (const bad of ['https://api.trakt.tv:8443/x', 'http://api.trakt.tv/x', 'https://evil.example/steal']) {
    assert.throws(() => p.check(bad), /not an allowed origin/, bad);
  }
  const o = Origin.parse('http://h:8080/trakt/');
  const q = new Policy(o, o);
  for (const ok of ['http://h:8080/trakt', 'http://h:8080/trakt/', 'http://h:8080/trakt/sync/x?page=2', 'http://h:8080/TRAKT/a']) {
    assert.equal(q.check(ok).destination, 'api', ok);
  }
  for (const bad of ['http://h:8080/', 'http://h:8080/other-app/users', 'http://h:8080/trakt-evil/x', 'http://h:8080/trakt/../other',
    'http://h:8080/trakt/%2E%2e/other', 'http://h:8080/trakt/..%2fother', 'http://h:8080/trakt/./x']) {
    assert.throws(() => q.check(bad), /outside the configured base path \/trakt/, bad);
  }
  // The OAuth origin never opens the API origin's other paths.
  const same = new Policy(o, Origin.parse('http://h:8080'));
  assert.throws(() => same.check('http://h:8080/other'), /outside the configured base path \/trakt/);
  // An OAuth origin of its own keeps its own base path.
  const own = new Policy(Origin.parse('https://api.example/trakt'), Origin.parse('https://auth.example/oauth'));
  assert.equal(own.check('https://auth.example/oauth/token').destination, 'oauth');
  assert.throws(() => own.check('https://auth.example/admin'), /outside the configured base path \/oauth/);
});

test('the host owns framing, routing and proxy headers', () => {
  for (const h of ['Content-Length', 'transfer-encoding', ' Host ', 'TE', 'Trailer', 'Upgrade', 'Expect', 'Keep-Alive', 'Connection', 'Proxy-Authorization']) {
    assert.ok(hostOwnedHeader(h), h);
  }
  assert.ok(!hostOwnedHeader('X-Hostile'));
});

test('log lines follow CrossWatch format and escape every control character', () => {
  assert.equal(formatLine('info', 'watchlist', 'index_done', [['count', '8'], ['source', 'live'], ['e', '']]), '[TRAKT:watchlist] INFO index_done count=8 source=live');
  assert.equal(formatLine('warn', 'http', 'retry', [['url', 'http://x/y z']]), '[TRAKT:http] WARN retry url="http://x/y z"');
  const forged = 'x\n[TRAKT:auth] INFO token_refreshed\u001b[2J\u009b31m\u007f\u202e';
  const l = formatLine('info', forged, forged, [[forged, forged], ['k', 'a\rb']]);
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202e]/.test(l), l);
  assert.ok(l.startsWith('[TRAKT:"x\\n[TRAKT:auth] INFO token_refreshed\\u001b[2J\\u009b31m\\u007f\\u202e"] INFO '), l);
  assert.ok(l.endsWith(' k="a\\rb"'), l);
  assert.equal(formatLine('info', '', 'e', []), '[TRAKT:""] INFO e');
});

test('state: names, quota, file limit, atomic writes, io errors without the directory', () => {
  for (const bad of ['', '../x', 'a/b', 'a\\b', '..', '.hidden', 'x y', 'é', 'a'.repeat(129)]) {
    assert.throws(() => validateName(bad), (e) => e.tag === 'invalid-name', JSON.stringify(bad));
  }
  const dir = path.join(tempDir(), 'st');
  const s = new StateStore(dir, { quotaBytes: 10, maxFiles: 2 });
  s.write('a', '12345');
  assert.equal(s.read('a'), '12345');
  assert.throws(() => s.write('b', '123456'), (e) => e.tag === 'quota-exceeded' && /10 bytes/.test(e.message));
  s.write('a', '1234567890');
  s.delete('a');
  s.write('b', '');
  s.write('c', '');
  assert.throws(() => s.write('d', ''), (e) => e.tag === 'quota-exceeded' && /2 files/.test(e.message));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['b', 'c'], 'no temporary file is left');
  assert.equal(s.read('missing'), undefined);
  fs.mkdirSync(path.join(dir, 'sub'));
  const e = (() => { try { s.read('sub'); } catch (x) { return x; } })();
  assert.equal(e.tag, 'io');
  assert.ok(e.message.includes('"sub"') && !e.message.includes(dir), e.message);
  fs.writeFileSync(path.join(dir, 'bin'), Buffer.from([0xff, 0xfe]));
  assert.throws(() => s.read('bin'), (x) => x.tag === 'io' && /UTF-8/.test(x.message));
});

test('the memory cap rewrites a module\'s memory limits', async () => {
  // (module (memory 2)) and (module (memory (export "m") 2 100))
  const noMax = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 2);
  const withMax = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 1, 2, 100, 7, 5, 1, 1, 0x6d, 2, 0);
  const capped = capMemory(noMax, 10 * 65536);
  assert.deepEqual([...capped.subarray(8)], [5, 4, 1, 1, 2, 10]);
  assert.ok(WebAssembly.validate(capped));
  const inst = await WebAssembly.instantiate(capMemory(withMax, 4 * 65536));
  const mem = inst.instance.exports.m;
  assert.equal(mem.grow(2), 2);
  assert.throws(() => mem.grow(1), RangeError, 'growing past the cap fails');
  assert.throws(() => capMemory(noMax, 65536), /above the memory limit of 1 pages/);
});

test('preflight: the contract version, the allowed world and each refused import named', async () => {
  const { problems, customSections } = await import('../src/preflight.mjs');
  const { transpile } = await import('@bytecodealliance/jco-transpile');
  const real = process.env.TRAKT_ADAPTER_WASM;
  const foreign = process.env.FOREIGN_IMPORT_COMPONENT_WASM;
  assert.ok(real && foreign, 'run_tests.sh exports TRAKT_ADAPTER_WASM and FOREIGN_IMPORT_COMPONENT_WASM');
  const look = async (file) => {
    const r = await transpile(file, { name: 'component', instantiation: 'async' });
    return [r.imports, r.exports.map(([n]) => n)];
  };
  const bytes = fs.readFileSync(real);
  assert.equal(customSections(bytes)['crosswatch:api-version'], 'crosswatch:sync@0.1.0');
  const [imports, exports] = await look(real);
  assert.deepEqual(problems(bytes, imports, exports), []);
  const [fi, fe] = await look(foreign);
  const refused = problems(fs.readFileSync(foreign), fi, fe);
  assert.equal(refused.length, 1, refused.join('\n'));
  assert.match(refused[0], /imports wasi:filesystem\/types \(files\), outside the world/);
  // A declaration of another contract (appended: the last section of a name wins, as in the
  // Rust and Python hosts) is refused naming both versions.
  const name = Buffer.from('crosswatch:api-version');
  const value = Buffer.from('crosswatch:sync@0.2.0');
  const body = Buffer.concat([Buffer.from([name.length]), name, value]);
  const other = Buffer.concat([bytes, Buffer.from([0, body.length]), body]);
  assert.deepEqual(problems(other, imports, exports),
    ['the component targets contract crosswatch:sync@0.2.0, but this host supports crosswatch:sync@0.1.x']);
  assert.throws(() => customSections(Buffer.from('\0asm\x01\0\0\0')), /core WebAssembly module/);
});
