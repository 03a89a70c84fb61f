#!/usr/bin/env node
// Transpiles the component with jco into gen/<name>/ (instantiation mode: every instance
// gets its own imports, the host's). The component is the file TRAKT_ADAPTER_WASM names, else
// the one the Cargo build produces (`cargo run -q -p trakt-adapter-artifacts` prints its
// path). `--hostile` also transpiles the hostile test component (tests/hostile) into
// gen/hostile/ (HOSTILE_COMPONENT_WASM, else the artifacts crate's `--hostile`).
// A stamp (sha256 of the component) skips the 3-4 s transpile when nothing changed.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpile } from '@bytecodealliance/jco-transpile';
import { PreflightError, problems } from './src/preflight.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

function artifact(hostile) {
  const env = { ...process.env };
  if (hostile) delete env.TRAKT_ADAPTER_WASM; // else the hostile component is a placeholder
  const args = ['run', '-q', '-p', 'trakt-adapter-artifacts', ...(hostile ? ['--', '--hostile'] : [])];
  return execFileSync('cargo', args, { cwd: REPO, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export async function build(name, wasm) {
  const bytes = fs.readFileSync(wasm);
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  const out = path.join(HERE, 'gen', name);
  const stamp = path.join(out, 'source.sha256');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === sha) return out;
  const started = Date.now();
  const { files, imports, exports } = await transpile(wasm, {
    name: 'component',
    instantiation: 'async',
    emitTypescriptDeclarations: true,
    base64Cutoff: 0,
    outDir: out,
  });
  // Preflight before anything is written or instantiated (src/preflight.mjs).
  const refused = problems(bytes, imports, exports.map(([name]) => name));
  if (refused.length) throw new PreflightError(`refusing the component ${wasm}: ${refused.join('; ')}`);
  fs.rmSync(out, { recursive: true, force: true });
  for (const [file, data] of Object.entries(files)) {
    const target = path.resolve(out, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, data);
  }
  fs.writeFileSync(stamp, `${sha}\n`);
  console.error(`build.mjs: ${name}: transpiled ${wasm} (${bytes.length} bytes) in ${Date.now() - started} ms`);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hostile = process.argv.includes('--hostile');
  try {
    await build('adapter', process.env.TRAKT_ADAPTER_WASM || artifact(false));
    if (hostile) await build('hostile', process.env.HOSTILE_COMPONENT_WASM || artifact(true));
  } catch (e) {
    if (!(e instanceof PreflightError)) throw e;
    console.error(`build.mjs: ${e.message}`);
    process.exit(2);
  }
}
