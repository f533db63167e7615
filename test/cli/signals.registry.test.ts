// A stopped CLI takes its subprocesses with it (they lead process groups of their own, so the bin stops them first),
// and with --json it still prints the one envelope the contract promises: CANCELLED, naming the signal, exit 1; a
// rehearsal cut short by the signal is no verdict on its candidate.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { describeWhere, onLinux } from '../support/skip.ts';
import { CLI, cliEnv, fixtureRoot, tempDir } from '../support/cli.ts';
import { alive, until, SMOKE_WITH_GRANDCHILD } from '../support/processes.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it spawns the CLI itself (to signal it) as the test process on roots it made: root acts only on roots of its own',
);

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

/** Live processes whose command line names `dir` (a release's candidate, run from it). */
function candidatePids(dir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) || readlinkSync(`/proc/${pid}/cwd`) === dir;
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(alive);
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

  it('SIGTERM during a switch, in its preflight, with --json: CANCELLED with the transaction, failed before the flip, current untouched, the candidate gone and not marked bad', async () => {
    const root = await fixtureRoot([
      '--health-url',
      'http://127.0.0.1:9/health',
      '--preflight',
      'server.js --port {port}',
      '--preflight-for',
      '60',
    ]);
    for (const args of [
      ['install', 'rs-fixture-gateway@1.0.0'],
      ['install', 'rs-fixture-gateway@1.1.0'],
      ['switch', '1.0.0', '--no-preflight'],
    ]) {
      const r = await execa(process.execPath, [CLI, '--root', root, '--json', ...args], {
        env: cliEnv(),
        extendEnv: false,
        reject: false,
      });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    const child = execa(process.execPath, [CLI, '--root', root, '--json', 'switch', '1.1.0'], {
      env: cliEnv(),
      extendEnv: false,
      reject: false,
    });
    const candidate = () => candidatePids(join(root, 'releases', '1.1.0'));
    await until('the candidate to be rehearsed', () => candidate().length > 0, 30_000);
    child.kill('SIGTERM');
    await until('the candidate to be gone', () => candidate().length === 0, 1_500);
    const result = await child;
    expect(result.exitCode, result.stderr).toBe(1);
    const envelope = JSON.parse(result.stdout);
    expect(envelope).toMatchObject({ ok: false, error: { code: 'CANCELLED', details: { signal: 'SIGTERM' } } });
    expect(envelope.error.message).toMatch(
      /^1\.1\.0's rehearsal was cancelled before its verdict; nothing was flipped/,
    );
    expect(envelope.result).toMatchObject({ kind: 'switch', status: 'failed', from: '1.0.0', to: '1.1.0' });
    // Not the candidate's fault: not marked bad.
    const list = await execa(process.execPath, [CLI, '--root', root, '--json', 'list'], {
      env: cliEnv(),
      extendEnv: false,
    });
    const candidateRelease = JSON.parse(list.stdout).result.releases.find(
      (r: { version: string }) => r.version === '1.1.0',
    );
    expect(candidateRelease.state).toBe('installed');
    const status = await execa(process.execPath, [CLI, '--root', root, '--json', 'status'], {
      env: cliEnv(),
      extendEnv: false,
    });
    expect(JSON.parse(status.stdout).result.current).toBe('1.0.0');
  }, 120_000);

  it('SIGTERM during staging without --json: the CLI unwinds, says CANCELLED on stderr, then dies of the signal', async () => {
    const { result } = await stopDuringStaging('SIGTERM', false);
    expect(result.signal, result.stderr).toBe('SIGTERM');
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/error CANCELLED: .*SIGTERM/);
  }, 90_000);
});
