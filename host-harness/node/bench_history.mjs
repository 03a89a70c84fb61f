#!/usr/bin/env node
// Prints how long `cw-host index history` and this host's `cli.mjs index history` take on the
// same emulator with 20,000 plays (3,000 movies), and whether both print the same JSON. A
// benchmark, not a test: the figures go to stdout, nothing is asserted on time.
// Usage: node bench_history.mjs [PLAYS] (CW_HOST_BIN as in run_tests.sh).
import fs from 'node:fs';
import path from 'node:path';
import { Emulator, cwHost, nodeHost, tempDir, writeConfig } from './test/harness.mjs';

const plays = Number(process.argv[2] || 20000);
const movies = Array.from({ length: 3000 }, (_, i) => ({
  title: `Movie ${i + 1}`, year: 1950 + (i % 70), ids: { trakt: i + 1, tmdb: 100000 + i + 1, imdb: `tt${1000000 + i + 1}` },
}));
const history = Array.from({ length: plays }, (_, i) => ({
  id: 9_000_000 + i, type: 'movie', trakt: (i % movies.length) + 1,
  watched_at: new Date((1_600_000_000 + i * 7 * 60) * 1000).toISOString().replace(/\.\d+Z$/, '.000Z'),
}));
const emu = await Emulator.start({ catalog: { movies, shows: [] }, watchlist: [], history, user: { username: 'alice', vip: true } });
const dir = tempDir('cw-bench-');
try {
  const config = writeConfig(dir, emu);
  const time = (label, fn) => {
    const t = process.hrtime.bigint();
    const r = fn();
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.code !== 0) throw new Error(`${label} failed: ${r.stderr}`);
    console.log(`${label}: ${(ms / 1000).toFixed(2)} s (whole process, cold state)`);
    return r.stdout;
  };
  const rust = time('cw-host index history', () => cwHost(['--config', config, '--state-dir', path.join(dir, 'rs'), 'index', 'history']));
  const node = time('node cli.mjs index history', () => nodeHost(['--config', config, '--state-dir', path.join(dir, 'node'), 'index', 'history']));
  console.log(`plays: ${Object.keys(JSON.parse(node)).length}; same JSON as cw-host: ${node === rust}`);
} finally {
  emu.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
