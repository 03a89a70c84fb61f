#!/usr/bin/env node
// The Node host's command line: the arguments and the JSON of `cw-host` (README, "The
// cw-host command line") for manifest, health, index, add and remove. stdout carries only
// JSON; logs go to stderr; exit 0 ok, 1 adapter error or sandbox stop, 2 usage/config.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { open, AdapterError, HostError, UsageError } from './src/index.mjs';
import { ConfigError } from './src/config.mjs';
import { errorToJson, parseFeature } from './src/items.mjs';

const USAGE = `usage: cli.mjs [--config FILE] [--instance ID] [--state-dir DIR] [--api-url URL] [--auth-url URL]
              [--log-level LEVEL] [--memory-limit-mib N] [--call-timeout SECS] [--component NAME|DIR] COMMAND
  manifest | health | index FEATURE | add FEATURE [--dry-run] [FILE] | remove FEATURE [--dry-run] [FILE]`;

const print = (v) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', default: './config/config.json' },
      instance: { type: 'string', default: 'default' },
      'state-dir': { type: 'string' },
      'api-url': { type: 'string' },
      'auth-url': { type: 'string' },
      'log-level': { type: 'string', default: process.env.CW_TRAKT_LOG_LEVEL || 'info' },
      'memory-limit-mib': { type: 'string', default: '512' },
      'call-timeout': { type: 'string', default: '1800' },
      component: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, feature, file] = positionals;
  const memory = Number(values['memory-limit-mib']);
  const timeout = Number(values['call-timeout']);
  if (!(memory > 0) || !(timeout > 0)) throw new UsageError('--memory-limit-mib and --call-timeout must be above 0');
  const commands = ['manifest', 'health', 'index', 'add', 'remove'];
  if (!commands.includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}\n${USAGE}`);
  if (command !== 'manifest' && command !== 'health' && !feature) throw new UsageError(`${command} needs a FEATURE`);
  const f = feature ? parseFeature(feature) : undefined;
  let items;
  if (command === 'add' || command === 'remove') {
    const text = !file || file === '-' ? fs.readFileSync(0, 'utf8') : readFile(file);
    let parsed;
    try { parsed = JSON.parse(text); } catch (e) { throw new UsageError(`items are not valid JSON: ${e.message}`); }
    if (!Array.isArray(parsed)) throw new UsageError('items must be a JSON array of item objects');
    items = parsed;
  }
  const session = await open({
    config: values.config,
    instance: values.instance,
    stateDir: values['state-dir'],
    apiUrl: values['api-url'],
    authUrl: values['auth-url'],
    logLevel: values['log-level'],
    component: values.component,
    needCredentials: command !== 'manifest',
    limits: { memoryBytes: memory * 1024 * 1024, callTimeoutMs: timeout * 1000 },
  });
  try {
    switch (command) {
      case 'manifest': print(await session.manifest()); return 0;
      case 'health': { const h = await session.health(); print(h); return h.ok ? 0 : 1; }
      case 'index': print(await session.buildIndex(f)); return 0;
      default: print(await session.write(command, f, items, values['dry-run'])); return 0;
    }
  } finally {
    await session.close();
  }
}

function readFile(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${e.message}`);
  }
}

let code;
try {
  code = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError || e instanceof ConfigError || e?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`cw-host-node: ${e.message}\n`);
    code = 2;
  } else if (e instanceof AdapterError) {
    const err = errorToJson(e.payload);
    process.stderr.write(`cw-host-node: ${err.kind}: ${err.message}\n`);
    print({ ok: false, error: err });
    code = 1;
  } else if (e instanceof HostError) {
    print({ ok: false, error: { kind: e.kind, message: e.message } });
    process.stderr.write(`cw-host-node: ${e.message}\n`);
    code = e.kind === 'host' ? 2 : 1;
  } else {
    throw e;
  }
}
process.exitCode = code;
