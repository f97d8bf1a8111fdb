/** What every real-peer driver needs: the CI-aware skip rule and a command runner. */
import { execFile } from 'node:child_process';

/**
 * The `skip` option for a suite that needs `what`: false when `reason` is undefined, the reason to
 * skip (said loudly) otherwise; under CI=true a missing peer throws, because there it is a setup bug.
 */
export function peerSkip(what: string, reason: string | undefined): string | false {
  if (!reason) return false;
  if (process.env.CI === 'true') throw new Error(`${what} unavailable: ${reason} (CI=true: this must not be skipped)`);
  process.stderr.write(`\n*** SKIPPED: ${what} unavailable: ${reason} ***\n\n`);
  return reason;
}

/** Runs a command to completion; rejects with its stderr. */
export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { env, encoding: 'utf8', maxBuffer: 8 << 20 }, (err, stdout, stderr) =>
      err ? fail(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : ok(stdout),
    );
  });
}
