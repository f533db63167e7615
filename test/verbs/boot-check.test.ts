// The boot-check acts only at the unit's start, and never goes back to a release that fails its check.
// Run by hand while the service runs (systemd reports a main process), it does nothing: no snapshot put back
// into the live state, no start counted, no flip. It restores only when systemd reports the unit in its
// ExecStartPre. Its crash-loop flip-back checks the release it goes back to before anything changes.
// (Under a real systemd --user: test/snapshot/migration.system.test.ts, where the ExecStartPre restores and a
// boot-check by hand answers `live`.)
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootCheck } from '../../src/verbs/boot-check.ts';
import type { CommandRunner } from '../../src/service/supervisors/types.ts';
import { takeSnapshot } from '../../src/snapshot/snapshot.ts';
import { tempDir } from '../support/cli.ts';
import { fixtureRoots } from '../support/fixture-root.ts';
import { linkOf, readState, unfreeze } from '../support/root.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it runs the boot-check in this process (as root) on roots it made: root acts only on roots of its own',
);

const freshRoot = fixtureRoots(['1.0.0', '1.1.0']);

/** What `systemctl show` answers for the unit, and the calls made. */
function systemd(show: { ActiveState: string; SubState: string; MainPID: number } | 'unreachable') {
  const calls: string[][] = [];
  const runner: CommandRunner = async (_file, args) => {
    calls.push(args);
    if (show === 'unreachable')
      return { exitCode: 1, output: 'Failed to connect to bus: No medium found', timedOut: false };
    return {
      exitCode: 0,
      output: `ActiveState=${show.ActiveState}\nSubState=${show.SubState}\nMainPID=${show.MainPID}\nNRestarts=0\nResult=success\nLoadState=loaded\n`,
      timedOut: false,
    };
  };
  return { runner, calls };
}
const RUNNING = { ActiveState: 'active', SubState: 'running', MainPID: 4242 };
const START_PRE = { ActiveState: 'activating', SubState: 'start-pre', MainPID: 0 };

function edit(root: string, file: string, change: (value: any) => void): void {
  const value = JSON.parse(readFileSync(join(root, file), 'utf8'));
  change(value);
  writeFileSync(join(root, file), JSON.stringify(value));
}

function point(root: string, current: string, previous: string): void {
  for (const [name, version] of [
    ['current', current],
    ['previous', previous],
  ] as const) {
    rmSync(join(root, name), { force: true });
    symlinkSync(`releases/${version}`, join(root, name));
  }
}

/**
 * 1.0.0 current, back from 1.1.0: a rollback in flight asks for snapshot `tx-back` (state.db as it was before
 * 1.1.0 migrated it) to be put back before 1.0.0 starts. The live state.db says `migrated`.
 */
async function rootWithRestorePending() {
  const root = freshRoot();
  const db = join(tempDir('rs-bootcheck-state-'), 'state.db');
  writeFileSync(db, 'before\n');
  await takeSnapshot({ root, id: 'tx-back', statePaths: [db], env: {}, fromVersion: '1.0.0', toVersion: '1.1.0' });
  writeFileSync(db, 'migrated\n');
  edit(root, 'config.json', (config) =>
    Object.assign(config, { supervisor: 'systemd', unit: 'rs-gw.service', statePaths: [db] }),
  );
  point(root, '1.0.0', '1.1.0');
  edit(root, 'state.json', (state) => {
    state.releases['1.1.0'].state = 'bad';
    state.transaction = {
      id: 'tx-back',
      kind: 'rollback',
      status: 'restarting',
      from: '1.1.0',
      to: '1.0.0',
      reason: null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      steps: [],
      before: { current: '1.1.0', previous: '1.0.0' },
      restore: { snapshot: 'tx-back', version: '1.0.0' },
    };
  });
  return { root, db };
}

describe('boot-check puts state back only at the unit start', () => {
  it('run by hand while the service runs (a main process): does nothing, the live state is not overwritten', async () => {
    const { root, db } = await rootWithRestorePending();
    const { runner, calls } = systemd(RUNNING);
    const result = await bootCheck({ root, env: {}, runner });
    expect(result).toMatchObject({
      version: '1.0.0',
      action: 'live',
      detail: expect.stringMatching(/rs-gw\.service is active\/running with main process 4242.*nothing done/),
    });
    expect(result.restored).toBeUndefined();
    expect(readFileSync(db, 'utf8')).toBe('migrated\n');
    expect(calls).toEqual([
      [
        '--user',
        'show',
        'rs-gw.service',
        ...[
          'ActiveState',
          'SubState',
          'MainPID',
          'NRestarts',
          'ExecMainStatus',
          'ExecMainCode',
          'Result',
          'LoadState',
          'ControlGroup', // the unit's processes, whose listeners verification trusts (service/listener-owner.ts)
        ].map((p) => `--property=${p}`),
      ],
    ]);
  });

  it('in the unit ExecStartPre (activating/start-pre, no main process): puts the snapshot back', async () => {
    const { root, db } = await rootWithRestorePending();
    const result = await bootCheck({ root, env: {}, runner: systemd(START_PRE).runner });
    expect(result).toMatchObject({ version: '1.0.0', restored: 'tx-back' });
    expect(readFileSync(db, 'utf8')).toBe('before\n');
  });

  it('when systemd cannot be asked, or the unit is in another state: the state is left alone and it says why', async () => {
    for (const show of ['unreachable', { ActiveState: 'inactive', SubState: 'dead', MainPID: 0 }] as const) {
      const { root, db } = await rootWithRestorePending();
      const result = await bootCheck({ root, env: {}, runner: systemd(show).runner });
      expect(result.restored).toBeUndefined();
      expect(result.stateError).toMatch(
        show === 'unreachable'
          ? /neither snapshotted nor put back: systemd could not be asked/
          : /neither snapshotted nor put back: rs-gw\.service is inactive\/dead/,
      );
      expect(readFileSync(db, 'utf8')).toBe('migrated\n');
    }
  });

  it('run by hand while the service runs, a pending release is neither counted nor flipped back', async () => {
    const root = freshRoot();
    edit(root, 'config.json', (config) => Object.assign(config, { supervisor: 'systemd', unit: 'rs-gw.service' }));
    point(root, '1.1.0', '1.0.0');
    edit(root, 'state.json', (state) => {
      state.releases['1.1.0'].state = 'pending';
    });
    for (let i = 0; i < 5; i++)
      expect(await bootCheck({ root, env: {}, maxTries: 3, runner: systemd(RUNNING).runner })).toMatchObject({
        action: 'live',
        tries: 0,
      });
    expect(linkOf(root, 'current')).toBe('releases/1.1.0');
    expect(readState(root).releases['1.1.0'].state).toBe('pending');
  });
});

describe("boot-check's crash-loop flip-back checks the release it goes back to", () => {
  /** 1.1.0 pending and crash-looping (supervisor none: counted by hand), 1.0.0 before it. */
  function crashLooping(): string {
    const root = freshRoot();
    point(root, '1.1.0', '1.0.0');
    edit(root, 'state.json', (state) => {
      state.releases['1.1.0'].state = 'pending';
    });
    return root;
  }

  it('a tampered previous release: refused before anything changes, the crash-looping release stays', async () => {
    const root = crashLooping();
    const file = join(root, 'releases', '1.0.0', 'package.json');
    unfreeze(file);
    writeFileSync(file, `${readFileSync(file, 'utf8')} `);
    const before = readFileSync(join(root, 'state.json'), 'utf8');
    for (let i = 1; i <= 3; i++)
      expect(await bootCheck({ root, maxTries: 3 })).toMatchObject({ action: 'counted', tries: i });
    const result = await bootCheck({ root, maxTries: 3 });
    expect(result).toMatchObject({
      version: '1.1.0',
      action: 'refused',
      detail: expect.stringMatching(/1\.0\.0 fails its check \(RELEASE_TAMPERED/),
    });
    expect(linkOf(root, 'current')).toBe('releases/1.1.0');
    expect(linkOf(root, 'previous')).toBe('releases/1.0.0');
    expect(readFileSync(join(root, 'state.json'), 'utf8')).toBe(before); // not marked bad, no transaction opened
  });

  it('an intact previous release: flipped back after the tries', async () => {
    const root = crashLooping();
    for (let i = 1; i <= 3; i++) await bootCheck({ root, maxTries: 3 });
    expect(await bootCheck({ root, maxTries: 3 })).toMatchObject({ action: 'flipped-back', now: '1.0.0' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(readState(root).releases['1.1.0']).toMatchObject({ state: 'bad' });
    // The way back it opened says who started it and why: the boot-check, for a release that failed to verify.
    expect(readState(root).transaction).toMatchObject({
      kind: 'recover',
      status: 'rolling_back',
      reason: 'crash_loop',
      origin: { by: 'boot-check', why: 'failed_verification' },
    });
  });
});

describe('boot-check records each run (boot-check.json), for status, doctor and the transaction', () => {
  const record = (root: string) => JSON.parse(readFileSync(join(root, 'boot-check.json'), 'utf8'));

  it('a run at the start: its InvocationID (from its environment), the tool version, what it did', async () => {
    const root = freshRoot();
    const { runner } = systemd(START_PRE);
    edit(root, 'config.json', (c) => Object.assign(c, { supervisor: 'systemd', unit: 'rs-gw.service' }));
    await bootCheck({ root, env: { INVOCATION_ID: 'feedface' }, runner });
    const own = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')).version;
    expect(record(root)).toEqual({
      // 1.0.0 was switched to under supervisor none: pending, so this start is counted.
      last: {
        at: expect.any(String),
        tool: own,
        invocation: 'feedface',
        action: 'counted',
        version: '1.0.0',
        tries: 1,
      },
      start: {
        at: expect.any(String),
        tool: own,
        invocation: 'feedface',
        action: 'counted',
        version: '1.0.0',
        tries: 1,
      },
    });
  });

  it('its own failure (an unreadable journal) is recorded with its code, then thrown as before', async () => {
    const root = freshRoot();
    writeFileSync(join(root, 'state.json'), '{ not json');
    await expect(bootCheck({ root, env: { INVOCATION_ID: 'badc0de' } })).rejects.toMatchObject({
      code: 'CORRUPT_STATE',
    });
    expect(record(root).start).toMatchObject({
      invocation: 'badc0de',
      action: 'error',
      version: null,
      error: { code: 'CORRUPT_STATE', message: expect.any(String) },
    });
  });
});
