// A stopped CLI takes its subprocesses with it (they lead process groups of their own, so the bin stops them first),
// and with --json it still prints the one envelope the contract promises: CANCELLED, naming the signal, exit 1.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { describeWhere, onLinux } from '../support/skip.ts';
import { CLI, cliEnv, fixtureRoot, tempDir } from '../support/cli.ts';
import { alive, until, SMOKE_WITH_GRANDCHILD } from '../support/processes.ts';

/** An install stopped by `signal` while its smoke check (and the check's own child) runs. */
async function stopDuringStaging(signal: 'SIGTERM' | 'SIGINT', json: boolean) {
  const root = await fixtureRoot([`--smoke=${SMOKE_WITH_GRANDCHILD}`]);
  const pidFile = join(tempDir('rs-pids-'), 'pids');
  const child = execa(
    process.execPath,
    [CLI, '--root', root, ...(json ? ['--json'] : []), 'install', 'rs-fixture-gateway@1.0.0'],
    { env: cliEnv({ RS_TEST_PIDS: pidFile }), extendEnv: false, reject: false },
  );
  await until(
    'the smoke check to start',
    () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(','),
    30_000,
  );
  const pids = readFileSync(pidFile, 'utf8').split(',').map(Number);
  expect(pids.every(alive)).toBe(true);
  child.kill(signal);
  const stopped = Date.now();
  // The children go at once, while the CLI unwinds.
  await until('the smoke check and its child to be gone', () => !pids.some(alive), 1_500);
  const result = await child;
  return { root, result, ms: Date.now() - stopped };
}

describeWhere(onLinux, 'signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} during staging with --json: one CANCELLED envelope naming the signal, exit 1, the smoke check and its child gone within about a second, nothing staged left`, async () => {
      const { root, result } = await stopDuringStaging(signal, true);
      expect(result.signal, result.stderr).toBeUndefined();
      expect(result.exitCode, result.stderr).toBe(1);
      const envelope = JSON.parse(result.stdout);
      expect(result.stdout.trim().split('\n')).toHaveLength(1);
      expect(envelope).toMatchObject({ ok: false, error: { code: 'CANCELLED', details: { signal } } });
      expect(envelope.error.message).toBe(`Staging was cancelled by ${signal}; nothing was changed.`);
      expect(existsSync(join(root, 'releases', '1.0.0'))).toBe(false);
    }, 90_000);
  }

  it('SIGTERM during staging without --json: the CLI unwinds, says CANCELLED on stderr, then dies of the signal', async () => {
    const { result } = await stopDuringStaging('SIGTERM', false);
    expect(result.signal, result.stderr).toBe('SIGTERM');
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/error CANCELLED: .*SIGTERM/);
  }, 90_000);
});
