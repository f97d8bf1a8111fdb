#!/usr/bin/env node
/**
 * `rollcall`: the command line over any registry. Output goes to stdout (a table, or JSON with
 * `--json`), every problem to stderr as one line; docs/cli.md lists the commands and exit codes.
 * @module
 */
import { run } from './run.js';

async function main(): Promise<void> {
  const interrupt = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // A second Ctrl+C while the goodbye is under way leaves at once.
      if (interrupt.signal.aborted) process.exit(130);
      interrupt.abort();
    });
  }
  const status = await run(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(`${text}\n`),
    note: (text) => process.stderr.write(`${text}\n`),
    interrupted: interrupt.signal,
    now: () => new Date(),
  });
  process.exit(status);
}

void main();
