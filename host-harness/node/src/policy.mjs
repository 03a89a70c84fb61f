// The sandbox policy, as cw-host applies it (host-harness/host/src/policy.rs and
// imports/http.rs): the two allowed origins, the API base path, the methods the WIT names and
// the headers the host owns. Error texts follow the Rust host's so the conformance scenarios
// can match them.

export class PolicyError extends Error {}

/** The methods wit/host.wit names for `request.method` (any letter case). */
export const ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
/** Framing, routing and hop-by-hop headers: the host's client sets its own (plus `proxy-*`). */
export const HOST_OWNED_HEADERS = [
  'content-length', 'transfer-encoding', 'connection', 'host', 'te', 'trailer', 'upgrade', 'expect', 'keep-alive',
];
/** Headers the host replaces on signed requests. */
export const SIGNED_HEADERS = ['authorization', 'trakt-api-key'];

export function hostOwnedHeader(name) {
  const n = String(name).trim().toLowerCase();
  return HOST_OWNED_HEADERS.includes(n) || n.startsWith('proxy-');
}

/** `scheme://host[:port]` and the path part exactly as written (before URL normalisation). */
function split(url) {
  const text = String(url).trim();
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?/.exec(text);
  if (!m) throw new PolicyError(`${JSON.stringify(url)} is not a URL (no scheme://host); expected e.g. https://api.trakt.tv`);
  const scheme = m[1].toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') throw new PolicyError(`${JSON.stringify(url)} must start with http:// or https://`);
  if (m[2].includes('@')) throw new PolicyError(`${JSON.stringify(url)} must not carry user info`);
  let parsed;
  try {
    parsed = new URL(text);
  } catch (e) {
    throw new PolicyError(`${JSON.stringify(url)} is not a URL (${e.message}); expected e.g. https://api.trakt.tv`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!host) throw new PolicyError(`${JSON.stringify(url)} has no host`);
  const port = parsed.port ? Number(parsed.port) : (scheme === 'https' ? 443 : 80);
  return { scheme, host, port, rawPath: m[3] || '', hasQuery: m[4] !== undefined, parsed };
}

export class Origin {
  constructor(scheme, host, port, basePath) {
    Object.assign(this, { scheme, host, port, basePath });
  }

  /** An `http(s)://host[:port][/base]` URL from configuration. */
  static parse(url) {
    const s = split(url);
    if (s.hasQuery) throw new PolicyError(`${JSON.stringify(url)} must not carry a query string`);
    return new Origin(s.scheme, s.host, s.port, s.rawPath.replace(/\/+$/, ''));
  }

  toString() {
    const dflt = (this.scheme === 'https' && this.port === 443) || (this.scheme === 'http' && this.port === 80);
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return dflt ? `${this.scheme}://${host}` : `${this.scheme}://${host}:${this.port}`;
  }

  /** The base URL handed to the component. */
  baseUrl() {
    return `${this}${this.basePath}`;
  }

  sameOrigin(o) {
    return this.scheme === o.scheme && this.host === o.host && this.port === o.port;
  }

  /** policy.rs `contains_path`: no `.`/`..` segment (also encoded), then a prefix match. */
  containsPath(path) {
    if (!this.basePath) return true;
    const decoded = path.toLowerCase().replaceAll('%2e', '.').replaceAll('%2f', '/').replaceAll('%5c', '/').replaceAll('\\', '/');
    if (decoded.split('/').some((seg) => seg === '.' || seg === '..')) return false;
    const base = this.basePath.toLowerCase();
    const p = path.toLowerCase();
    return p === base || p.startsWith(`${base}/`);
  }
}

export class Policy {
  constructor(api, oauth) {
    this.api = api;
    this.oauth = oauth;
  }

  /** 'api' (sign it), 'oauth' (pass it unsigned) or a PolicyError (the guest's `denied`). */
  check(url) {
    const s = split(url);
    const target = new Origin(s.scheme, s.host, s.port, '');
    // Both the path as written and the path Node will send must lie inside the base path.
    const inside = (o) => o.containsPath(s.rawPath) && o.containsPath(s.parsed.pathname);
    const outside = (o) => new PolicyError(`${JSON.stringify(s.rawPath)} is outside the configured base path ${o.basePath} (only ${o.basePath} and paths below it are allowed)`);
    if (target.sameOrigin(this.api)) {
      // On the API's origin its base path holds for every request, even when the OAuth
      // origin shares the host (policy.rs `check`; tests/conformance hostile_path_prefix).
      if (inside(this.api)) return { destination: 'api', url: s.parsed };
      throw outside(this.api);
    }
    if (target.sameOrigin(this.oauth)) {
      if (inside(this.oauth)) return { destination: 'oauth', url: s.parsed };
      throw outside(this.oauth);
    }
    throw new PolicyError(`${target} is not an allowed origin (allowed: ${this.api} and ${this.oauth})`);
  }
}
