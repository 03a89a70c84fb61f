// The `state` import (host-harness/host/src/imports/state.rs): validated names, atomic
// writes, a byte quota and a file limit over one directory the component never sees; io
// errors name the file and the system's reason, never the directory.
import fs from 'node:fs';
import path from 'node:path';
import { writeAtomic } from './fsutil.mjs';

export const DEFAULT_MAX_FILES = 1000;
export const DEFAULT_QUOTA_BYTES = 512 * 1024 * 1024;

export class StateFault extends Error {
  constructor(tag, message) {
    super(message);
    this.tag = tag;
  }
}

export function validateName(name) {
  if (typeof name !== 'string' || name.length === 0 || name.length > 128 || !/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) {
    throw new StateFault('invalid-name', `invalid state file name ${JSON.stringify(name)}: use 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class StateStore {
  constructor(dir, { quotaBytes = DEFAULT_QUOTA_BYTES, maxFiles = DEFAULT_MAX_FILES, log } = {}) {
    this.dir = dir;
    this.quotaBytes = quotaBytes;
    this.maxFiles = maxFiles;
    this.log = log;
    this.sizes = undefined; // name -> bytes, read once, then kept by every write and delete
  }

  io(op, name, e) {
    this.log?.('warn', 'state', 'state_io_failed', [['op', op], ['name', name], ['dir', this.dir], ['error', e.message]]);
    // Node's messages carry the path (`EISDIR: ..., read '/x/y'`): keep the reason only.
    const reason = (e.code ? `${e.code}: ` : '') + String(e.message).split(this.dir).join('<state>').replace(/^[A-Z]+: /, '').replace(/, \w+ '[^']*'$/, '');
    return new StateFault('io', name ? `cannot ${op} state file ${JSON.stringify(name)}: ${reason}` : `cannot ${op} the state directory: ${reason}`);
  }

  index() {
    if (!this.sizes) {
      this.sizes = new Map();
      for (const n of this.listNames()) {
        let size = 0;
        try { size = fs.statSync(path.join(this.dir, n)).size; } catch { /* gone meanwhile */ }
        this.sizes.set(n, size);
      }
    }
    return this.sizes;
  }

  read(name) {
    validateName(name);
    let bytes;
    try {
      bytes = fs.readFileSync(path.join(this.dir, name));
    } catch (e) {
      if (e.code === 'ENOENT') return undefined;
      throw this.io('read', name, e);
    }
    try {
      return utf8.decode(bytes);
    } catch {
      throw new StateFault('io', `cannot read state file ${JSON.stringify(name)}: it is not UTF-8 text`);
    }
  }

  write(name, contents) {
    validateName(name);
    const sizes = this.index();
    const size = Buffer.byteLength(contents, 'utf8');
    if (!sizes.has(name) && sizes.size >= this.maxFiles) {
      throw new StateFault('quota-exceeded', `writing ${JSON.stringify(name)} would exceed the state limit of ${this.maxFiles} files`);
    }
    let used = 0;
    for (const [n, s] of sizes) if (n !== name) used += s;
    if (used + size > this.quotaBytes) {
      throw new StateFault('quota-exceeded', `writing ${size} bytes to ${JSON.stringify(name)} would exceed the state quota of ${this.quotaBytes} bytes (${used} in use)`);
    }
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw this.io('create the directory for', name, e);
    }
    try {
      writeAtomic(path.join(this.dir, name), contents);
    } catch (e) {
      throw this.io('write', name, e);
    }
    sizes.set(name, size);
  }

  delete(name) {
    validateName(name);
    try {
      fs.unlinkSync(path.join(this.dir, name));
    } catch (e) {
      if (e.code !== 'ENOENT') throw this.io('delete', name, e);
    }
    this.sizes?.delete(name);
  }

  listNames() {
    let entries;
    try {
      entries = fs.readdirSync(this.dir, { withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT') return [];
      throw this.io('list', '', e);
    }
    return entries.filter((e) => e.isFile()).map((e) => e.name).filter((n) => {
      try { validateName(n); return true; } catch { return false; }
    }).sort();
  }
}
