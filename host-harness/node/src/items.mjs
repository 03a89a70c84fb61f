// CrossWatch's item JSON at the host boundary and the JSON shapes cw-host prints, field for
// field and in the same key order (host-harness/host/src/items.rs, host-harness/cli/src/
// commands.rs): a Node index or report is the same text as cw-host's.

export const FEATURES = ['watchlist', 'ratings', 'history', 'playlists'];
const KNOWN_FIELDS = ['type', 'title', 'year', 'ids', 'show_ids', 'season', 'episode', 'series_title', 'rating',
  'rated_at', 'watched_at', 'listed_at', '_trakt_history_id'];

export class UsageError extends Error {}

export function parseFeature(name) {
  const f = String(name).trim().toLowerCase();
  if (!FEATURES.includes(f)) throw new UsageError(`unknown feature ${JSON.stringify(name)}: expected one of ${FEATURES.join(', ')}`);
  return f;
}

function short(v) {
  const s = JSON.stringify(v);
  return [...s].length > 60 ? `${[...s].slice(0, 60).join('')}...` : s;
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** One JSON item -> the WIT record (camelCase, options undefined). Errors name item and field. */
export function itemFromJson(index, value) {
  if (!isObj(value)) throw new UsageError(`item ${index}: expected a JSON object, found ${short(value)}`);
  const who = typeof value.title === 'string' ? `item ${index} (${JSON.stringify(value.title)})` : `item ${index}`;
  const bad = (field, want, v) => new UsageError(`${who}: field ${field} must be ${want}, found ${short(v)}`);
  const get = (f) => (value[f] === null ? undefined : value[f]);
  const text = (f) => {
    const v = get(f);
    if (v === undefined || typeof v === 'string') return v;
    throw bad(f, 'a string', v);
  };
  const stamp = (f) => {
    const v = get(f);
    if (v === undefined || typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    throw bad(f, 'a timestamp string or number', v);
  };
  const int = (f) => {
    const v = get(f);
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return v;
    if (typeof v === 'string') {
      if (!v.trim()) return undefined;
      if (/^[+-]?\d+$/.test(v.trim())) { const n = Number(v.trim()); if (n >= -(2 ** 31) && n < 2 ** 31) return n; }
    }
    throw bad(f, 'an integer', v);
  };
  const ids = (f) => {
    const v = get(f);
    if (v === undefined) return [];
    if (!isObj(v)) throw bad(f, 'an object of namespace -> id', v);
    return Object.entries(v).flatMap(([namespace, x]) => (
      ['string', 'number', 'boolean'].includes(typeof x) ? [{ namespace, value: String(x) }] : []));
  };
  let rating;
  const r = get('rating');
  if (typeof r === 'number') rating = r;
  else if (typeof r === 'string') rating = r.trim() === '' ? NaN : Number(r.trim());
  else if (r !== undefined) rating = NaN;
  let historyId = get('_trakt_history_id');
  if (typeof historyId === 'number') historyId = String(historyId);
  else if (historyId !== undefined && typeof historyId !== 'string') throw bad('_trakt_history_id', 'a string or integer', historyId);
  const kind = get('type');
  if (kind !== undefined && typeof kind !== 'string') throw bad('type', 'a string', kind);
  const extra = Object.fromEntries(Object.entries(value).filter(([k]) => !KNOWN_FIELDS.includes(k)));
  return {
    kind: kind ?? '', title: text('title'), year: int('year'), ids: ids('ids'), showIds: ids('show_ids'),
    season: int('season'), episode: int('episode'), seriesTitle: text('series_title'), rating,
    ratedAt: stamp('rated_at'), watchedAt: stamp('watched_at'), listedAt: stamp('listed_at'), historyId,
    extra: Object.keys(extra).length ? JSON.stringify(extra) : undefined,
  };
}

export function itemsFromJson(text) {
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new UsageError(`items are not valid JSON: ${e.message}`); }
  if (!Array.isArray(v)) throw new UsageError('items must be a JSON array of item objects');
  return v.map((x, i) => itemFromJson(i, x));
}

const idsToJson = (ids) => Object.fromEntries(ids.map((i) => [i.namespace, i.value]));

export function itemToJson(item) {
  const m = { type: item.kind, title: item.title ?? null, year: item.year ?? null, ids: idsToJson(item.ids) };
  if (item.showIds.length) m.show_ids = idsToJson(item.showIds);
  const opt = (k, v) => { if (v !== undefined && v !== null) m[k] = v; };
  opt('season', item.season);
  opt('episode', item.episode);
  opt('series_title', item.seriesTitle);
  opt('rating', Number.isFinite(item.rating) ? item.rating : undefined);
  opt('rated_at', item.ratedAt);
  opt('watched_at', item.watchedAt);
  opt('listed_at', item.listedAt);
  opt('_trakt_history_id', item.historyId);
  if (item.extra) {
    let extra;
    try { extra = JSON.parse(item.extra); } catch { extra = undefined; }
    if (isObj(extra)) for (const [k, v] of Object.entries(extra)) if (!(k in m)) m[k] = v;
  }
  return m;
}

export function indexToJson(entries) {
  const out = {};
  for (const e of entries) out[e.key] = itemToJson(e.item);
  return out;
}

export function reportToJson(report, dryRun) {
  const v = {
    ok: true,
    count: report.confirmed.length,
    confirmed_keys: report.confirmed,
    skipped_keys: report.skipped,
    unresolved: report.unresolved.map((u) => ({ key: u.key, item: itemToJson(u.item), hint: u.hint })),
    outcomes: report.outcomes.map((o) => (o.status.tag === 'unresolved'
      ? { key: o.key, status: 'unresolved', hint: o.status.val } : { key: o.key, status: o.status.tag })),
    dry_run: dryRun,
  };
  if (dryRun) {
    v.requests = report.planned.map((p) => {
      let body;
      try { body = JSON.parse(p.body); } catch { body = p.body; }
      return { method: p.method, path: p.path, body };
    });
  }
  return v;
}

const ERROR_KINDS = {
  unsupported: 'unsupported', 'invalid-input': 'invalid_input', config: 'config', auth: 'auth', forbidden: 'forbidden',
  'account-limit': 'account_limit', locked: 'locked', 'vip-only': 'vip_only', 'rate-limited': 'rate_limited', http: 'http',
  transport: 'transport', protocol: 'protocol', state: 'state', internal: 'internal',
};

/** `{kind, message, ...details}` for an adapter-error payload `{tag, val}`. */
export function errorToJson(e) {
  const kind = ERROR_KINDS[e.tag] ?? e.tag;
  switch (e.tag) {
    case 'account-limit':
      return { kind, message: e.val.message, limit: e.val.limit, vip: e.val.vip, upgrade_url: e.val.upgradeUrl ?? null };
    case 'rate-limited':
      return { kind, message: e.val.message, retry_after: e.val.retryAfterSecs ?? null };
    case 'http':
      return { kind, message: e.val.message, status: e.val.status };
    default:
      return { kind, message: e.val };
  }
}

export function manifestToJson(m) {
  const features = {};
  for (const f of m.features) {
    features[f.feature] = { supported: f.supported, index: f.index, add: f.add, remove: f.remove, media_types: f.mediaTypes, note: f.note };
  }
  return {
    name: m.name, label: m.label, version: m.version, api_version: m.apiVersion, features,
    id_namespaces: m.idNamespaces, index_semantics: m.indexSemantics, key_scheme: m.keyScheme,
  };
}

export function healthToJson(h) {
  const ok = h.status === 'ok' || h.status === 'degraded';
  const features = {};
  const reasons = {};
  for (const f of h.features) {
    features[f.feature] = f.available;
    if (f.reason) reasons[f.feature] = f.reason;
  }
  const v = {
    ok,
    status: h.status,
    latency_ms: h.latencyMs,
    features,
    details: !h.message && !Object.keys(reasons).length ? null
      : { reason: h.message, features: reasons, retry_after_s: h.retryAfterSecs ?? null },
    api: { last_activities: { status: h.apiStatus, retry_after: h.retryAfterSecs ?? null, rate: { remaining: h.rateLimitRemaining ?? null } } },
  };
  if (!ok) v.error = { kind: h.status === 'auth_failed' ? 'auth' : 'transport', message: h.message };
  return v;
}
