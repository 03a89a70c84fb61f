// Test helpers: the project's Trakt emulator (`cw-host emulator`) as a child process, its
// control endpoints, CrossWatch-shaped configs, and cw-host itself for comparisons. The
// binary comes from CW_HOST_BIN (run_tests.sh sets it), else target/debug/cw-host.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..');
export const CW_HOST = process.env.CW_HOST_BIN || path.join(REPO, 'target', 'debug', 'cw-host');
export const CLI = path.resolve(HERE, '..', 'cli.mjs');

export function tempDir(prefix = 'cw-node-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export class Emulator {
  static async start(seed) {
    const dir = tempDir('cw-node-emu-');
    const args = ['emulator', '--port', '0'];
    if (seed) {
      fs.writeFileSync(path.join(dir, 'seed.json'), JSON.stringify(seed));
      args.push('--seed', path.join(dir, 'seed.json'));
    }
    const proc = spawn(CW_HOST, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    const banner = await new Promise((resolve, reject) => {
      let text = '';
      const rl = readline.createInterface({ input: proc.stdout });
      const timer = setTimeout(() => reject(new Error(`the emulator did not start: ${err}`)), 60_000);
      rl.on('line', (line) => {
        text += `${line}\n`;
        try {
          const v = JSON.parse(text);
          clearTimeout(timer);
          resolve(v);
        } catch { /* more lines to come */ }
      });
      proc.on('exit', (code) => reject(new Error(`the emulator exited (${code}): ${err}`)));
    });
    proc.stdout.resume();
    return new Emulator(proc, banner, dir);
  }

  constructor(proc, banner, dir) {
    this.proc = proc;
    this.url = banner.url.replace(/\/+$/, '');
    this.trakt = banner.config.trakt;
    this.dir = dir;
  }

  async control(method, p, body) {
    const r = await fetch(`${this.url}${p}`, {
      method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return text.trim() ? JSON.parse(text) : null;
  }

  requests() { return this.control('GET', '/_emulator/requests'); }
  clearRequests() { return this.control('DELETE', '/_emulator/requests'); }
  addFault(f) { return this.control('POST', '/_emulator/faults', f); }
  clearFaults() { return this.control('DELETE', '/_emulator/faults'); }
  state() { return this.control('GET', '/_emulator/state'); }

  stop() {
    this.proc.kill('SIGTERM');
  }
}

/** A CrossWatch-shaped config.json in `dir` for `emu`; returns its path. */
export function writeConfig(dir, emu, extra = {}) {
  const trakt = { ...emu.trakt, timeout: 10, max_retries: 3, rate_limit: { enabled: false }, ...extra };
  const cfg = { version: 1, plex: { account_token: 'plex-secret' }, trakt, sync: { enable_add: true } };
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

/** `cw-host ARGS` (the Rust host) with its stdout, stderr and exit status. */
export function cwHost(args, input = '') {
  const p = spawnSync(CW_HOST, args, { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: p.status, stdout: p.stdout, stderr: p.stderr };
}

/** `node cli.mjs ARGS` (this host's CLI). */
export function nodeHost(args, input = '') {
  const p = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: p.status, stdout: p.stdout, stderr: p.stderr };
}
