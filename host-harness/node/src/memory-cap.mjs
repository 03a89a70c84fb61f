// A memory bound for Node: V8's resourceLimits do not cover wasm memory and the adapter's
// core module declares no maximum (/work/shared/reference/node-jco.md), so the host writes
// one into each defined memory of a core module before compiling it (memory section, id 5,
// https://webassembly.github.io/spec/core/binary/modules.html#memory-section). A guest that
// grows past it gets -1 from memory.grow, as under wasmtime's limiter.

function readU32(bytes, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7;
  }
}

function u32(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** `bytes` with every 32-bit memory the module defines capped at `maxBytes` (64 KiB pages). */
export function capMemory(bytes, maxBytes) {
  const maxPages = Math.floor(maxBytes / 65536);
  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error('not a core wasm module');
  const parts = [bytes.subarray(0, 8)];
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos];
    const [size, start] = readU32(bytes, pos + 1);
    const end = start + size;
    if (id !== 5) {
      parts.push(bytes.subarray(pos, end));
      pos = end;
      continue;
    }
    let [count, p] = readU32(bytes, start);
    const body = [...u32(count)];
    while (count--) {
      const flag = bytes[p++];
      if (flag > 1) throw new Error(`memory limits flag ${flag} (shared or 64-bit) is not supported`);
      let min;
      [min, p] = readU32(bytes, p);
      let max = maxPages;
      if (flag === 1) {
        let declared;
        [declared, p] = readU32(bytes, p);
        max = Math.min(declared, maxPages);
      }
      if (max < min) throw new Error(`the module needs ${min} pages at start, above the memory limit of ${maxPages} pages`);
      body.push(1, ...u32(min), ...u32(max));
    }
    parts.push(Uint8Array.of(5, ...u32(body.length), ...body));
    pos = end;
  }
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) { out.set(x, at); at += x.length; }
  return out;
}
