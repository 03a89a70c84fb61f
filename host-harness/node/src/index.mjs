// The Node host's API: open a session the way cw-host does (config, policy, limits, state
// directory, one instance in its own worker thread, configure, refresh ahead of expiry) and
// call it with a shape like the Python provider's (buildIndex, add, remove, health, manifest).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Adapter, AdapterError, HostError } from './adapter.mjs';
import * as config from './config.mjs';
import { Origin } from './policy.mjs';
import { checkPin, PreflightError } from './preflight.mjs';
import { parseLevel } from './log.mjs';
import { DEFAULT_MAX_FILES, DEFAULT_QUOTA_BYTES } from './state.mjs';
import { indexToJson, reportToJson, healthToJson, manifestToJson, itemFromJson, parseFeature, UsageError } from './items.mjs';

export { Adapter, AdapterError, HostError, UsageError };
export const VERSION = '0.1.0';
const GEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'gen');

/** cw-host's defaults (host-harness/host/src/policy.rs Limits). */
export const DEFAULT_LIMITS = {
  memoryBytes: 512 * 1024 * 1024,
  callTimeoutMs: 30 * 60 * 1000,
  httpTimeoutCapMs: 120_000,
  stateQuotaBytes: DEFAULT_QUOTA_BYTES,
  stateMaxFiles: DEFAULT_MAX_FILES,
};

/** `.cw_state` beside the config file, as CrossWatch keeps it. */
export function defaultStateDir(configPath) {
  return path.join(path.dirname(configPath), '.cw_state');
}

/**
 * Open a configured instance. opts: config (path, required), instance, stateDir, apiUrl,
 * authUrl, component ('adapter' or 'hostile', or a gen/ directory), limits, logLevel,
 * onLog, onProgress, needCredentials (default true), options (extra/overriding options).
 */
export async function open(opts) {
  const logLevel = parseLevel(opts.logLevel ?? 'info');
  if (!logLevel) throw new UsageError(`invalid --log-level ${JSON.stringify(opts.logLevel)}: use trace, debug, info, warn or error`);
  const cfg = config.loadConfig(opts.config, config.normalizeInstance(opts.instance));
  const needCredentials = opts.needCredentials ?? true;
  const creds = needCredentials ? config.requireCredentials(cfg) : safeCredentials(cfg);
  let api;
  let oauth;
  try {
    api = Origin.parse(opts.apiUrl ?? config.url(cfg, 'api_url') ?? config.DEFAULT_API_URL);
  } catch (e) {
    throw new UsageError(`API URL: ${e.message}`);
  }
  try {
    const given = opts.authUrl ?? config.url(cfg, 'auth_url');
    if (given) oauth = Origin.parse(given);
    else oauth = api.baseUrl() === config.DEFAULT_API_URL ? Origin.parse(config.DEFAULT_AUTH_URL) : api;
  } catch (e) {
    throw new UsageError(`OAuth URL: ${e.message}`);
  }
  const limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
  const component = opts.component ?? 'adapter';
  const genDir = component.includes('/') ? component : path.join(GEN, component);
  checkComponent(cfg, genDir);
  const options = { ...config.adapterOptions(cfg, api.baseUrl()), ...(opts.options ?? {}) };
  const adapter = new Adapter({
    genDir,
    apiUrl: api.baseUrl(),
    oauthUrl: oauth.baseUrl(),
    creds,
    store: cfg.exists ? { path: path.resolve(cfg.path), instance: cfg.instance } : undefined,
    stateDir: path.resolve(opts.stateDir ?? defaultStateDir(opts.config)),
    limits,
    logLevel,
    userAgent: `cw-host-node/${VERSION}`,
    options: JSON.stringify(options),
    onLog: opts.onLog,
    onProgress: opts.onProgress,
  });
  try {
    await adapter.start();
  } catch (e) {
    await adapter.close();
    if (e instanceof AdapterError && e.payload.tag === 'config') throw new UsageError(`config ${opts.config}: ${e.payload.val}`);
    throw e;
  }
  if (needCredentials) {
    const r = await adapter.call('refreshIfExpiring', config.refreshMarginSecs(cfg));
    if (r?.fault?.tag === 'invalid-grant') {
      await adapter.close();
      throw new AdapterError({ tag: 'auth', val: r.fault.val });
    }
  }
  return new Session(adapter);
}

/**
 * The config's pin on the transpiled component (build.mjs ran the rest of the preflight and
 * recorded the source file's sha256), and a refusal when it asks for signatures, which only
 * the Rust and Python hosts verify (`cw-host verify`).
 */
function checkComponent(cfg, genDir) {
  const keys = cfg.trakt.component_trusted_keys;
  if (Array.isArray(keys) ? keys.length > 0 : Boolean(keys)) {
    throw new UsageError(
      'config sets trakt.component_trusted_keys, but the Node host cannot verify component signatures yet: '
        + 'verify the file with `cw-host verify FILE --trusted-key KEY` and pin its digest with trakt.component_sha256',
    );
  }
  const pinned = cfg.trakt.component_sha256;
  if (!pinned) return;
  let actual;
  try {
    actual = fs.readFileSync(path.join(genDir, 'source.sha256'), 'utf8').trim();
  } catch {
    throw new UsageError(`trakt.component_sha256 is set, but ${genDir} has no source.sha256: run \`node build.mjs\``);
  }
  try {
    checkPin(actual, pinned);
  } catch (e) {
    if (e instanceof PreflightError) throw new UsageError(e.message);
    throw e;
  }
}

function safeCredentials(cfg) {
  try {
    return config.credentials(cfg);
  } catch {
    return { clientId: '', clientSecret: '', accessToken: '', refreshToken: '', expiresAt: 0, createdAt: 0 };
  }
}

export class Session {
  constructor(adapter) {
    this.adapter = adapter;
  }

  async manifest() {
    return manifestToJson(await this.adapter.call('manifest'));
  }

  async health() {
    return healthToJson(await this.adapter.call('health'));
  }

  /** {canonical key: item}, the same JSON as `cw-host index FEATURE`. */
  async buildIndex(feature) {
    return indexToJson(await this.adapter.call('buildIndex', parseFeature(feature)));
  }

  /** The same index from the component's own JSON (`build-index-json`), parsed. */
  async buildIndexJson(feature) {
    return JSON.parse(await this.adapter.call('buildIndexJson', parseFeature(feature)));
  }

  async add(feature, items, { dryRun = false } = {}) {
    return this.write('add', feature, items, dryRun);
  }

  async remove(feature, items, { dryRun = false } = {}) {
    return this.write('remove', feature, items, dryRun);
  }

  async write(op, feature, items, dryRun) {
    const f = parseFeature(feature);
    const records = items.map((it, i) => itemFromJson(i, it));
    return reportToJson(await this.adapter.call(op, f, records, dryRun), dryRun);
  }

  async lastLedger() {
    return this.adapter.call('lastLedger');
  }

  /** The raw export (tests of the hostile component read its JSON answer). */
  async rawBuildIndexJson(feature) {
    return this.adapter.call('buildIndexJson', feature);
  }

  close() {
    return this.adapter.close();
  }
}
