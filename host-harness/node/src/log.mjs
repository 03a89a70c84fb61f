// CrossWatch's log line, `[TRAKT:<feature>] LEVEL event k=v ...`, exactly as cw-host writes
// it (host-harness/host/src/imports/log.rs): nothing the component sends can forge a line or
// reach a terminal as a control sequence.

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

export function parseLevel(text) {
  const l = String(text).toLowerCase();
  if (l === 'warning') return 'warn';
  return LEVELS.includes(l) ? l : undefined;
}

export function enabled(level, min) {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(min);
}

// Controls (C0, DEL, C1), line/paragraph separators and bidirectional controls.
const ESCAPE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const WHITE = /\s/u;

function quoted(s) {
  let out = '"';
  for (const c of s) {
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (ESCAPE.test(c)) out += `\\u${c.codePointAt(0).toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

function bare(s) {
  const plain = s !== '' && ![...s].some((c) => WHITE.test(c) || '"=[]\\'.includes(c) || ESCAPE.test(c));
  return plain ? s : quoted(s);
}

export function formatLine(level, feature, event, fields) {
  let line = `[TRAKT:${bare(String(feature))}] ${String(level).toUpperCase()} ${bare(String(event))}`;
  for (const [k, v0] of fields) {
    const v = String(v0);
    if (v === '') continue;
    const needsQuotes = [...v].some((c) => WHITE.test(c) || '"=:'.includes(c) || ESCAPE.test(c));
    line += ` ${bare(String(k))}=${needsQuotes ? quoted(v) : v}`;
  }
  return line;
}
