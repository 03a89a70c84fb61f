// Synchronous HTTP for the instance thread: the request goes to http-worker.mjs over a
// MessagePort and this thread blocks in Atomics.wait until the answer is there (the pattern
// preview2-shim uses for its own wasi:io, see its synckit). Costs 0.05-0.2 ms per request
// (/work/shared/reference/node-jco.md); it blocks only this instance's thread.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

export class SyncHttp {
  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./http-worker.mjs', import.meta.url), {
      workerData: { port: port2 }, transferList: [port2], env: {}, argv: [], stdout: false, stderr: false,
    });
    this.worker.unref();
  }

  /** {ok: {status, headers, body}} or {err: {tag, val}}; `req.timeoutMs` bounds the wait. */
  send(req) {
    const signal = new SharedArrayBuffer(4);
    const flag = new Int32Array(signal);
    this.port.postMessage({ signal, req });
    // The worker's own timer answers at timeoutMs; the extra second only guards a dead worker.
    const r = Atomics.wait(flag, 0, 0, req.timeoutMs + 1000);
    const msg = receiveMessageOnPort(this.port);
    if (!msg) return { err: { tag: 'timeout', val: `${req.url.split('?')[0]}: no answer (${r})` } };
    return msg.message;
  }
}
