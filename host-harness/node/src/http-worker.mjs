// The thread that does the instance's HTTP: node:http(s) is asynchronous, the WIT's
// `http.send` is not, so the instance thread posts a request here and blocks in Atomics.wait
// until the answer is posted back (sync-http.mjs). Keep-alive connections, no redirects.
import http from 'node:http';
import https from 'node:https';
import { workerData } from 'node:worker_threads';

const MAX_BODY_BYTES = 256 * 1024 * 1024;
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 4 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 4 }),
};
const { port } = workerData;

function faultOf(e, at, timedOut) {
  const code = e.code || '';
  const text = `${at}: ${e.message}${code && !e.message.includes(code) ? ` (${code})` : ''}`;
  if (timedOut) return { tag: 'timeout', val: `${at}: timed out` };
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'].includes(code)) {
    return { tag: 'connect', val: text };
  }
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return { tag: 'tls', val: text };
  }
  if (code.startsWith('ERR_INVALID') || code === 'ERR_HTTP_INVALID_HEADER_VALUE' || code === 'ERR_UNESCAPED_CHARACTERS') {
    return { tag: 'invalid-request', val: text };
  }
  return { tag: 'connection-lost', val: text };
}

function send(req) {
  return new Promise((resolve) => {
    const url = new URL(req.url);
    const at = `${url.origin}${url.pathname}`;
    let timedOut = false;
    let settled = false;
    const done = (v) => { if (!settled) { settled = true; clearTimeout(timer); resolve(v); } };
    let request;
    const timer = setTimeout(() => { timedOut = true; request?.destroy(new Error('timed out')); done({ err: { tag: 'timeout', val: `${at}: timed out after ${req.timeoutMs} ms` } }); }, req.timeoutMs);
    try {
      request = (url.protocol === 'https:' ? https : http).request({
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        // The host names the configured origin in Host (the guest's Host was dropped).
        headers: ['Host', url.host, ...req.headers],
        agent: agents[url.protocol],
        setHost: false,
      }, (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (c) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            res.destroy();
            done({ err: { tag: 'connection-lost', val: `${at}: response body above ${MAX_BODY_BYTES} bytes` } });
          } else chunks.push(c);
        });
        res.on('aborted', () => done({ err: { tag: 'connection-lost', val: `${at}: response aborted` } }));
        res.on('error', (e) => done({ err: faultOf(e, at, timedOut) }));
        res.on('end', () => {
          if (!res.complete) return done({ err: { tag: 'connection-lost', val: `${at}: response aborted` } });
          const headers = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
          const body = Buffer.concat(chunks);
          done({ ok: { status: res.statusCode, headers, body: new Uint8Array(body.buffer, body.byteOffset, body.length) } });
        });
      });
      request.on('error', (e) => done({ err: faultOf(e, at, timedOut) }));
      request.end(req.body.length ? Buffer.from(req.body) : undefined);
    } catch (e) {
      done({ err: faultOf(e, at, false) });
    }
  });
}

port.on('message', async ({ signal, req }) => {
  const result = await send(req);
  port.postMessage(result);
  const flag = new Int32Array(signal);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
