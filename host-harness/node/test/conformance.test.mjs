// Every scenario of tests/conformance/scenarios through the Node host.
import { test } from 'node:test';
import { run, scenarios } from './conformance-runner.mjs';

for (const sc of scenarios()) {
  test(`conformance: ${sc.name}`, { timeout: 120_000 }, () => run(sc));
}
