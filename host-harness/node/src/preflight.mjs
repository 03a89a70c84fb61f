// Checks a component before this host runs it, with the rules and sentences of the Rust host
// (host-harness/host/src/preflight.rs) and the Python host (crosswatch_trakt_wasm/preflight.py):
// the contract version it targets, imports only from the allowed world, and the sha256 pin
// (`trakt.component_sha256`). Signatures (`trakt.component_trusted_keys`) are verified by the
// other hosts only: asked of this host, it refuses rather than run an unverified file.
import crypto from 'node:crypto';

export const API_VERSION_SECTION = 'crosswatch:api-version';
export const CONTRACT_PACKAGE = 'crosswatch:sync';
export const CONTRACT_VERSION = '0.1.0';
export const EXPORT_INTERFACE = 'sync-adapter';
export const ALLOWED_IMPORTS = [
  'crosswatch:sync/types', 'crosswatch:sync/http', 'crosswatch:sync/state', 'crosswatch:sync/auth',
  'crosswatch:sync/log', 'crosswatch:sync/progress',
  'wasi:clocks/monotonic-clock', 'wasi:clocks/wall-clock', 'wasi:io/error', 'wasi:io/poll', 'wasi:io/streams',
  'wasi:cli/environment', 'wasi:cli/exit', 'wasi:cli/stdin', 'wasi:cli/stdout', 'wasi:cli/stderr',
  'wasi:cli/terminal-input', 'wasi:cli/terminal-output', 'wasi:cli/terminal-stdin', 'wasi:cli/terminal-stdout',
  'wasi:cli/terminal-stderr',
];

export class PreflightError extends Error {}

export function sha256Hex(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= bytes.length) throw new PreflightError('not a valid WebAssembly component: truncated');
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, at];
    shift += 7;
    if (shift > 35) throw new PreflightError('not a valid WebAssembly component: bad LEB128');
  }
}

/** The top-level custom sections of a component binary, name -> text (the last one wins). */
export function customSections(bytes) {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new PreflightError('not a WebAssembly file');
  }
  if (bytes[6] !== 1 || bytes[7] !== 0) throw new PreflightError('a core WebAssembly module, not a component');
  const out = {};
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size;
    [size, at] = leb(bytes, at);
    const end = at + size;
    if (end > bytes.length) throw new PreflightError('not a valid WebAssembly component: a section runs past the end');
    if (id === 0) {
      const [len, nameAt] = leb(bytes, at);
      const name = Buffer.from(bytes.subarray(nameAt, nameAt + len)).toString('utf8');
      out[name] = Buffer.from(bytes.subarray(nameAt + len, end)).toString('utf8');
    }
    at = end;
  }
  return out;
}

function semver(v) {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(v ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

const compatible = (a, b) => a[0] === b[0] && (a[0] !== 0 || a[1] === b[1]);

export function supportedContract() {
  const [major, minor] = semver(CONTRACT_VERSION);
  return major === 0 ? `${CONTRACT_PACKAGE}@0.${minor}.x` : `${CONTRACT_PACKAGE}@${major}.x`;
}

function importAllowed(name, host) {
  const [base, version] = name.split('@');
  if (!ALLOWED_IMPORTS.includes(base)) return false;
  // jco's transpile names imports without their versions; preview2-shim serves wasi 0.2 only
  // and the contract's version is checked on the export and the declaration above.
  if (version === undefined) return true;
  const v = semver(version);
  if (!v) return false;
  return base.startsWith('wasi:') ? v[0] === 0 && v[1] === 2 : compatible(v, host);
}

function describeRefused(name) {
  const pkg = name.split('/')[0];
  const what = {
    'wasi:filesystem': 'files',
    'wasi:sockets': 'network sockets',
    'wasi:http': 'direct HTTP, past the host\'s origin policy',
    'wasi:random': 'randomness',
  }[pkg] ?? (ALLOWED_IMPORTS.includes(name.split('@')[0]) ? 'an unsupported version' : 'unknown to this host');
  return `${name} (${what})`;
}

/**
 * Why this host cannot run a component with these bytes, imports and exports (jco's
 * transpile result names them, imports without versions), one sentence each; empty when it can.
 */
export function problems(bytes, imports, exports) {
  const host = semver(CONTRACT_VERSION);
  const out = [];
  const exportPrefix = `${CONTRACT_PACKAGE}/${EXPORT_INTERFACE}@`;
  const declared = customSections(bytes)[API_VERSION_SECTION]?.trim();
  const exported = exports.find((e) => e.startsWith(exportPrefix));
  const contract = declared ?? (exported ? `${CONTRACT_PACKAGE}@${exported.slice(exportPrefix.length)}` : undefined);
  if (!contract) {
    out.push(`the component declares no contract version and exports no ${CONTRACT_PACKAGE}/${EXPORT_INTERFACE}, `
      + `so it is not a CrossWatch sync component (this host supports ${supportedContract()})`);
  } else {
    const v = contract.startsWith(`${CONTRACT_PACKAGE}@`) ? semver(contract.slice(CONTRACT_PACKAGE.length + 1)) : null;
    if (!v || !compatible(v, host)) {
      out.push(`the component targets contract ${contract}, but this host supports ${supportedContract()}`);
    }
  }
  const refused = imports.filter((i) => !importAllowed(i, host)).map(describeRefused);
  if (refused.length) {
    out.push(`the component imports ${refused.join(', ')}, outside the world this host allows (${CONTRACT_PACKAGE}, `
      + 'wasi:clocks, wasi:io and the wasi:cli basics), so it is refused before it runs');
  }
  return out;
}

/** Refuse a component whose digest is not `pinned` (hex, `sha256:` prefix optional). */
export function checkPin(actualHex, pinned) {
  if (!pinned) return;
  const want = String(pinned).trim().toLowerCase().replace(/^sha256:/, '');
  if (want !== actualHex) {
    throw new PreflightError(`refusing the component: its sha256 is ${actualHex}, but trakt.component_sha256 pins ${want}`);
  }
}
