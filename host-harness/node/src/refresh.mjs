// The refresh-token grant with rotation, run as its own process under `flock(1)` on
// `<config>.lock`, the lock cw-host (Rust File::lock) and the Python host (fcntl.flock) take,
// so two hosts never spend the same single-use refresh token. Reads the request as JSON on
// stdin, prints {ok: {update, adopted}} or {err: {tag, val}}. Mirrors
// host-harness/host/src/imports/auth.rs `refresh` and oauth.rs `refresh_grant`.
import fs from 'node:fs';
import { credentials, loadConfig, persistTokens } from './config.mjs';

function parseToken(text) {
  const v = JSON.parse(text);
  if (typeof v?.access_token !== 'string' || !v.access_token) throw new Error('the token answer has no access_token');
  if (typeof v?.refresh_token !== 'string' || !v.refresh_token) throw new Error('the token answer has no refresh_token');
  const expiresIn = Number.isInteger(v.expires_in) ? v.expires_in : 0;
  const createdAt = Number.isInteger(v.created_at) ? v.created_at : Math.floor(Date.now() / 1000);
  return {
    accessToken: v.access_token,
    refreshToken: v.refresh_token,
    expiresAt: expiresIn > 0 ? createdAt + expiresIn : 0,
    createdAt,
    tokenType: typeof v.token_type === 'string' ? v.token_type : undefined,
    scope: typeof v.scope === 'string' ? v.scope : undefined,
  };
}

async function refresh({ store, oauthBase, creds, userAgent }) {
  if (store) {
    let disk;
    try { disk = credentials(loadConfig(store.path, store.instance)); } catch { disk = undefined; }
    if (disk && disk.accessToken && disk.accessToken !== creds.accessToken) {
      // Another process refreshed since this one read the config: use its pair.
      return { ok: { adopted: true, update: disk } };
    }
  }
  if (!creds.refreshToken || !creds.clientSecret || !creds.clientId) {
    return { err: { tag: 'not-configured', val: 'cannot refresh the Trakt token: trakt.client_id, trakt.client_secret and trakt.refresh_token are needed in the config; run `cw-host auth login`' } };
  }
  const url = `${oauthBase.replace(/\/+$/, '')}/oauth/token`;
  let res;
  let text;
  try {
    res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': userAgent },
      body: JSON.stringify({
        refresh_token: creds.refreshToken,
        client_id: creds.clientId,
        client_secret: creds.clientSecret,
        redirect_uri: 'urn:ietf:wg:oauth:2.0:oob',
        grant_type: 'refresh_token',
      }),
    });
    text = await res.text();
  } catch (e) {
    return { err: { tag: 'failed', val: `cannot reach ${url}: ${e.cause?.message ?? e.message}` } };
  }
  if (res.status >= 200 && res.status < 300) {
    let update;
    try { update = parseToken(text); } catch (e) { return { err: { tag: 'failed', val: e.message } }; }
    // The old refresh token is dead now: the new pair reaches disk before anything uses it.
    let saveError;
    if (store) {
      try { persistTokens(store.path, store.instance, update); } catch (e) { saveError = e.message; }
    }
    return { ok: { adopted: false, update, saveError } };
  }
  if (res.status === 400 || res.status === 401) {
    let code = 'invalid_grant';
    try { code = JSON.parse(text).error || code; } catch { /* not JSON */ }
    return { err: { tag: 'invalid-grant', val: `Trakt rejected the refresh token (HTTP ${res.status} ${code}): run \`cw-host auth login\` to log in again` } };
  }
  return { err: { tag: 'failed', val: `token refresh failed with HTTP ${res.status}: ${text.slice(0, 200)}` } };
}

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(await refresh(input)));
