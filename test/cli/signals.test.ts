// A killed CLI takes its subprocesses with it: they lead process groups of their own, so the bin aborts them first.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { describeWhere, onLinux } from '../support/skip.ts';
import { CLI, cliEnv, fixtureRoot, tempDir } from '../support/cli.ts';
import { alive, until, SMOKE_WITH_GRANDCHILD } from '../support/processes.ts';

describeWhere(onLinux, 'signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} during staging: the CLI dies of it, and the smoke check and its child are gone within about a second`, async () => {
      const root = await fixtureRoot([`--smoke=${SMOKE_WITH_GRANDCHILD}`]);
      const pidFile = join(tempDir('rs-pids-'), 'pids');
      const child = execa(process.execPath, [CLI, '--root', root, 'install', 'rs-fixture-gateway@1.0.0'], {
        env: cliEnv({ RS_TEST_PIDS: pidFile }),
        extendEnv: false,
        reject: false,
      });
      await until(
        'the smoke check to start',
        () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(','),
        30_000,
      );
      const pids = readFileSync(pidFile, 'utf8').split(',').map(Number);
      expect(pids.every(alive)).toBe(true);
      child.kill(signal);
      const result = await child;
      expect(result.signal, result.stderr).toBe(signal);
      await until('the smoke check and its child to be gone', () => !pids.some(alive), 1_500);
    }, 90_000);
  }
});
