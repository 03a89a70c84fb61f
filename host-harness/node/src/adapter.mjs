// The host side of one adapter instance: its worker thread (instance-worker.mjs), one call at
// a time, each bounded by a wall clock: past it the thread is terminated (the only bound jco
// allows, 12-22 ms to stop a hung call) and the call fails with a typed HostError of kind
// `limit`; the next call starts a fresh instance, configured again. Guest stdout/stderr and
// the log lines arrive here and go to the log sink.
import { Worker } from 'node:worker_threads';
import readline from 'node:readline';
import { formatLine } from './log.mjs';

/** The sandbox stopped the call (`limit`), the guest trapped (`trap`) or could not load (`host`). */
export class HostError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** The adapter answered an `adapter-error`; `payload` is `{tag, val}`. */
export class AdapterError extends Error {
  constructor(payload) {
    super(typeof payload.val === 'string' ? payload.val : payload.val?.message ?? payload.tag);
    this.payload = payload;
  }
}

export class Adapter {
  /**
   * @param {object} setup genDir, apiUrl, oauthUrl, creds, store, stateDir, limits, logLevel,
   *   userAgent, options (the JSON text for configure); onLog(line), onProgress(event).
   */
  constructor(setup) {
    this.setup = setup;
    this.onLog = setup.onLog ?? ((line) => process.stderr.write(`${line}\n`));
    this.worker = undefined;
    this.pending = new Map();
    this.nextId = 1;
    this.busy = Promise.resolve();
  }

  async start() {
    const s = this.setup;
    const worker = new Worker(new URL('./instance-worker.mjs', import.meta.url), {
      workerData: {
        genDir: s.genDir, apiUrl: s.apiUrl, oauthUrl: s.oauthUrl, creds: s.creds, store: s.store,
        stateDir: s.stateDir, limits: s.limits, logLevel: s.logLevel, userAgent: s.userAgent,
      },
      env: {}, argv: [], execArgv: [], stdin: false, stdout: true, stderr: true,
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        if (line) this.onLog(formatLine('warn', 'module', 'guest_output', [['line', line]]));
      });
    }
    await new Promise((resolve, reject) => {
      worker.on('message', (m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'log') this.onLog(m.line);
        else if (m.type === 'progress') s.onProgress?.(m);
        else if (m.type === 'creds') s.creds = m.creds;
        else this.settle(m);
      });
      worker.on('error', (e) => {
        reject(new HostError('host', `the component could not be loaded: ${e.message}`));
        this.failAll(new HostError('trap', `the instance failed: ${e.message}`));
      });
      worker.on('exit', (code) => {
        reject(new HostError('host', `the instance thread exited (${code}) before it was ready`));
        if (this.worker === worker) this.worker = undefined;
        this.failAll(new HostError('trap', `the instance thread exited (${code})`));
      });
    });
    this.worker = worker;
    if (s.options !== undefined) {
      const r = await this.rawCall('configure', [s.options]);
      if (r.adapterError) throw new AdapterError(r.adapterError);
    }
  }

  settle(m) {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.trap !== undefined) {
      this.stop();
      p.reject(new HostError('trap', `the component trapped: ${m.trap.split('\n')[0]}`));
    } else p.resolve(m);
  }

  failAll(err) {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }

  /** One call on the worker with the wall-clock bound; resolves to {ok} or {adapterError}. */
  rawCall(op, args) {
    const timeoutMs = this.setup.limits.callTimeoutMs;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const message = `the call ${op} ran past its wall-clock limit of ${timeoutMs} ms and was stopped`;
        this.onLog(formatLine('error', 'module', 'call_stopped', [['kind', 'limit'], ['reason', message]]));
        this.stop();
        reject(new HostError('limit', message));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ id, op, args, deadline: Date.now() + timeoutMs });
    });
  }

  /** Calls run one at a time; a stopped instance is replaced before the next one. */
  call(op, ...args) {
    const run = async () => {
      if (!this.worker) await this.start();
      const r = await this.rawCall(op, args);
      if (r.adapterError !== undefined) throw new AdapterError(r.adapterError);
      return r.ok;
    };
    const result = this.busy.then(run, run);
    this.busy = result.then(() => undefined, () => undefined);
    return result;
  }

  stop() {
    const w = this.worker;
    this.worker = undefined;
    if (w) w.terminate();
  }

  async close() {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
