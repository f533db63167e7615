// An abort during the smoke check ends the check and what it started, and the install rejects with CANCELLED,
// nothing changed: no release, no staging left, the journal as it was. It imports the built package (dist/):
// staging spawns its resolver child from beside the built modules.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { install } from '../../dist/index.js';
import { cliEnv, fixtureRoot, tempDir } from '../support/cli.ts';
import { readState } from '../support/root.ts';
import { describeWhere, onLinux } from '../support/skip.ts';
import { alive, until, SMOKE_WITH_GRANDCHILD } from '../support/processes.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot('it installs in this process (as root) on roots it made: root acts only on roots of its own');

describeWhere(onLinux, 'cancelling the smoke check', () => {
  it('an abort during the smoke check ends it and its child; CANCELLED, nothing changed', async () => {
    const root = await fixtureRoot([`--smoke=${SMOKE_WITH_GRANDCHILD}`]);
    expect(existsSync(join(root, 'state.json'))).toBe(false); // a fresh root: no journal yet
    const pidFile = join(tempDir('rs-pids-'), 'pids');
    const controller = new AbortController();
    const env = cliEnv({ RS_TEST_PIDS: pidFile });
    const installing = install({
      root,
      spec: 'rs-fixture-gateway@1.0.0',
      env,
      npmCache: env.npm_config_cache!,
      signal: controller.signal,
    });
    const settled = installing.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    let ended: unknown;
    void settled.then((outcome) => {
      ended = outcome;
    });
    await until(
      'the smoke check to start',
      () => {
        if (ended !== undefined) throw new Error(`the install ended before its smoke check started: ${String(ended)}`);
        return existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(',');
      },
      60_000,
    );
    const pids = readFileSync(pidFile, 'utf8').split(',').map(Number);
    expect(pids.every(alive)).toBe(true);
    const aborted = Date.now();
    controller.abort();
    // Before the smoke check's own 120 s timeout: the abort reached the check, not only the staging around it.
    expect(await settled).toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - aborted).toBeLessThan(10_000);
    await until('the smoke check and its child to be gone', () => !pids.some(alive), 1_500);
    expect(readdirSync(join(root, 'releases'))).toEqual([]);
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    // The install's operation was journaled, then closed: no release recorded, nothing left open.
    const after = readState(root);
    expect(after.releases).toEqual({});
    expect(after.operation).toBeNull();
    expect(after.transaction).toBeNull();
  }, 120_000);
});
