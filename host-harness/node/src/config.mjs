// CrossWatch's config.json as the other hosts read it (host-harness/host/src/config.rs,
// host-harness/python/crosswatch_trakt_wasm/config.py): the `trakt` block (or
// `trakt.instances.<id>` over it), the credentials the host keeps, the options the component
// gets, and the write-back of rotated tokens with every other key kept.
import fs from 'node:fs';
import { writeAtomic } from './fsutil.mjs';

export const DEFAULT_INSTANCE = 'default';
export const DEFAULT_API_URL = 'https://api.trakt.tv';
export const DEFAULT_AUTH_URL = 'https://auth.trakt.tv';
const TOKEN_KEYS = ['access_token', 'refresh_token', 'expires_at', 'token_created_at', 'token_type', 'scope', 'token', 'oauth'];
/** Credentials and host settings: never handed to the component (config.rs HOST_ONLY_KEYS). */
export const HOST_ONLY_KEYS = [
  'client_id', 'client_secret', 'access_token', 'refresh_token', 'expires_at', 'token_created_at',
  'refresh_margin_minutes', 'token_type', 'scope', 'token', 'oauth', 'instances', '_pending_device', 'api_url', 'auth_url',
  'component_sha256', 'component_trusted_keys',
];

export class ConfigError extends Error {}

export function blockName(instance) {
  return instance === DEFAULT_INSTANCE ? 'trakt' : `trakt.instances.${instance}`;
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The instance's view of the `trakt` block and whether that block exists. */
export function loadConfig(path, instance = DEFAULT_INSTANCE) {
  let text;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return { path, instance, exists: false, found: false, trakt: {} };
    throw new ConfigError(`cannot read config ${path}: ${e.message}`);
  }
  let root;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${path} is not valid JSON: ${e.message}`);
  }
  if (!isObject(root)) throw new ConfigError(`config ${path} must hold a JSON object`);
  const base = root.trakt ?? {};
  if (!isObject(base)) throw new ConfigError(`config ${path}: "trakt" must be an object`);
  if (instance === DEFAULT_INSTANCE) return { path, instance, exists: true, found: true, trakt: base };
  const own = isObject(base.instances) ? base.instances[instance] : undefined;
  const view = Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'instances' && !TOKEN_KEYS.includes(k)));
  return { path, instance, exists: true, found: isObject(own), trakt: { ...view, ...(isObject(own) ? own : {}) } };
}

function str(cfg, key) {
  const v = cfg.trakt[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ConfigError(`config ${cfg.path}: ${blockName(cfg.instance)}.${key} must be a string`);
  return v;
}

function seconds(cfg, key) {
  const v = cfg.trakt[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number') throw new ConfigError(`config ${cfg.path}: trakt.${key} must be a number (unix seconds)`);
  return Math.trunc(v);
}

export function credentials(cfg) {
  // CrossWatch 0.11.3 can encrypt secrets (`enc:v1:`); this host cannot decrypt them yet, and
  // ciphertext must never reach Trakt (host-harness/python/crosswatch_trakt_wasm/encryption.py).
  const encrypted = ['client_secret', 'access_token', 'refresh_token'].filter((k) => String(cfg.trakt[k] ?? '').startsWith('enc:v1:'));
  if (encrypted.length) {
    throw new ConfigError(`config ${cfg.path}: ${encrypted.map((k) => `${blockName(cfg.instance)}.${k}`).join(', ')} encrypted (enc:v1:); the Node host cannot decrypt CrossWatch's encrypted values yet: use cw-host or the Python host for this config`);
  }
  return {
    clientId: str(cfg, 'client_id'),
    clientSecret: str(cfg, 'client_secret'),
    accessToken: str(cfg, 'access_token'),
    refreshToken: str(cfg, 'refresh_token'),
    expiresAt: seconds(cfg, 'expires_at'),
    createdAt: seconds(cfg, 'token_created_at'),
  };
}

/** Credentials for commands that talk to Trakt; the error names what is missing and where. */
export function requireCredentials(cfg) {
  if (!cfg.exists) {
    throw new ConfigError(`config file ${cfg.path} not found: create it with a "trakt" block holding client_id, client_secret, access_token and refresh_token, or pass --config FILE`);
  }
  if (!cfg.found) {
    throw new ConfigError(`config ${cfg.path}: no Trakt instance ${JSON.stringify(cfg.instance)} (expected a ${blockName(cfg.instance)} block); connect that profile in CrossWatch or pass another --instance`);
  }
  const c = credentials(cfg);
  const block = blockName(cfg.instance);
  const missing = [];
  if (!c.clientId) missing.push(`${block}.client_id`);
  if (!c.accessToken) missing.push(`${block}.access_token`);
  if (missing.length) throw new ConfigError(`config ${cfg.path}: ${missing.join(' and ')} missing; add them to the "${block}" block`);
  return c;
}

export function url(cfg, key) {
  const s = str(cfg, key);
  return s || undefined;
}

/** What `configure` gets: the block without credentials and host settings, plus api_url. */
export function adapterOptions(cfg, apiBaseUrl) {
  const opts = Object.fromEntries(Object.entries(cfg.trakt).filter(([k]) => !HOST_ONLY_KEYS.includes(k)));
  opts.api_url = apiBaseUrl;
  return opts;
}

export function refreshMarginSecs(cfg) {
  const v = cfg.trakt.refresh_margin_minutes;
  if (v === undefined || v === null) return 3600;
  if (typeof v !== 'number' || v < 0) throw new ConfigError(`config ${cfg.path}: trakt.refresh_margin_minutes must be a number >= 0`);
  return Math.trunc(v * 60);
}

/** Rotated tokens into the instance's block, atomically, every other key kept in its order. */
export function persistTokens(path, instance, update) {
  const root = JSON.parse(fs.readFileSync(path, 'utf8'));
  if (!isObject(root)) throw new ConfigError(`config ${path} must hold a JSON object`);
  if (!isObject(root.trakt)) root.trakt = {};
  let block = root.trakt;
  if (instance !== DEFAULT_INSTANCE) {
    if (!isObject(block.instances)) block.instances = {};
    if (!isObject(block.instances[instance])) block.instances[instance] = {};
    block = block.instances[instance];
  }
  block.access_token = update.accessToken;
  block.refresh_token = update.refreshToken;
  block.expires_at = update.expiresAt;
  if (update.createdAt > 0) block.token_created_at = update.createdAt;
  if (update.tokenType) block.token_type = update.tokenType;
  if (update.scope) block.scope = update.scope;
  writeAtomic(path, `${JSON.stringify(root, null, 2)}\n`);
}

/** config.rs `normalize_instance`: "" / "default" / "default:N" -> default; "x:3" -> "x". */
export function normalizeInstance(id) {
  let s = String(id ?? '').trim();
  const m = /^(.*):(\d+)$/.exec(s);
  if (m) s = m[1].trim();
  return !s || s.toLowerCase() === DEFAULT_INSTANCE ? DEFAULT_INSTANCE : s;
}
