// The runners' log (runner.log) is bounded: past 1 MiB it is rotated when the next runner is handed a transaction,
// five earlier logs kept, so a host updated for years does not fill its disk with runner output. Driven through
// runCli with a stand-in for the runner's CLI (the hand-off is real; what the runner then does is another file's).
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { RUNNER_LOG_ROTATION } from '../../src/transaction/handoff.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';
import { cliEnv, tempDir } from '../support/cli.ts';
import { fixtureRoots } from '../support/fixture-root.ts';

runThisFileAsRoot('it runs the CLI in this process (runCli, to name a stand-in runner) on a root it made');

/** 1.0.0 current, 1.1.0 installed. */
const freshRoot = fixtureRoots(['1.0.0', '1.1.0']);

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the runners' log", () => {
  it('over 1 MiB when a runner is handed a switch: rotated first (five kept, the oldest dropped), the new runner writes a fresh runner.log', async () => {
    const root = freshRoot();
    const config = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
    writeFileSync(join(root, 'config.json'), JSON.stringify({ ...config, supervisor: 'pm2', unit: 'gateway' }));
    const log = join(root, 'runner.log');
    const line = 'a line of an earlier run\n';
    writeFileSync(log, line.repeat(Math.floor(RUNNER_LOG_ROTATION.maxBytes / line.length) + 1)); // just over
    chmodSync(log, 0o640);
    for (let n = 1; n <= RUNNER_LOG_ROTATION.kept; n += 1) writeFileSync(`${log}.${n}`, `the run ${n} before\n`);
    // Stands in for release-switcher's CLI in the runner: says how it was called.
    const standIn = join(tempDir('rs-runner-log-'), 'runner.mjs');
    writeFileSync(standIn, `console.log('runner', process.argv.slice(2).join(' '));\n`);
    let out = '';
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, cliPath: standIn };
    const code = await runCli(['--root', root, '--json', 'switch', '1.1.0', '--handoff', 'always'], {
      ...io,
      env: cliEnv(),
    });
    expect(code, out).toBe(0);
    const tx = JSON.parse(out).result;
    expect(tx.status).toBe('scheduled');
    await until('the runner to write its line', () => existsSync(log) && readFileSync(log, 'utf8').includes('\n'));
    expect(readFileSync(log, 'utf8')).toBe(`runner --root ${root} run-transaction ${tx.id}\n`);
    expect(readFileSync(`${log}.1`, 'utf8')).toMatch(/^a line of an earlier run\n/);
    expect(statSync(`${log}.1`).mode & 0o777).toBe(0o640);
    for (let n = 2; n <= RUNNER_LOG_ROTATION.kept; n += 1)
      expect(readFileSync(`${log}.${n}`, 'utf8')).toBe(`the run ${n - 1} before\n`);
    expect(existsSync(`${log}.${RUNNER_LOG_ROTATION.kept + 1}`)).toBe(false);
  });
});
