// The boot-check's record and the rules that read it, in-process: which start a record belongs to (the unit's
// InvocationID), a run by hand that never stands for a start, and when a transaction is owed a state checkpoint.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BootCheckRun,
  judgeBootCheck,
  readBootCheckRecord,
  recordBootCheckRun,
} from '../../src/store/boot-check-record.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { parseUnitStart } from '../../src/service/unit-start.ts';
import { checkpointDue } from '../../src/snapshot/checkpoint-due.ts';
import { tempDir } from '../support/cli.ts';

const run = (over: Partial<BootCheckRun> = {}): BootCheckRun => ({
  at: '2026-11-27T10:00:00.000Z',
  tool: '0.1.0',
  invocation: 'aaa',
  action: 'counted',
  version: '1.1.0',
  ...over,
});
const unit = (invocation: string | null) => ({
  invocation,
  startedAt: 'Fri 2026-11-27 10:00:01 UTC',
  state: 'active/running',
});

describe('judgeBootCheck: did the boot-check run at the unit present start?', () => {
  it('ran: the record names the present InvocationID', () => {
    const verdict = judgeBootCheck({ last: run(), start: run() }, unit('aaa'));
    expect(verdict).toMatchObject({ at: 'ran', run: { invocation: 'aaa' } });
    expect(verdict.detail).toMatch(
      /^the boot-check ran at the unit's start \(main process started Fri .*\): .*counted/,
    );
  });

  it('did not run: the unit started again (another InvocationID) and no run recorded that start', () => {
    const verdict = judgeBootCheck({ last: run(), start: run() }, unit('bbb'));
    expect(verdict.at).toBe('did-not-run');
    expect(verdict.detail).toMatch(
      /did not run at the unit's start .*Cannot find module.*its last run at a start: 2026-11-27T10:00:00/,
    );
  });

  it('did not run: no record at all while the unit runs (a boot-check that could never load writes none)', () => {
    const verdict = judgeBootCheck(undefined, unit('bbb'));
    expect(verdict).toMatchObject({ at: 'did-not-run', run: null });
    expect(verdict.detail).toMatch(/it has recorded no run at a start/);
  });

  it('a run of this start that failed in its own code counts as not having done its work, naming the error', () => {
    const failed = run({ action: 'error', error: { code: 'CORRUPT_STATE', message: 'state.json is unreadable' } });
    const verdict = judgeBootCheck({ last: failed, start: failed }, unit('aaa'));
    expect(verdict.at).toBe('did-not-run');
    expect(verdict.detail).toMatch(/failed in its own code \(CORRUPT_STATE: state\.json is unreadable\)/);
  });

  it('unknown without a start to compare with (no systemd unit, never started)', () => {
    expect(judgeBootCheck({ last: run(), start: run() }, null).at).toBe('unknown');
    expect(judgeBootCheck(undefined, unit(null)).at).toBe('unknown');
  });
});

describe('recordBootCheckRun', () => {
  it('keeps the last run at a start when a run by hand (live) comes after it; 0600, no temp file left', async () => {
    const layout = layoutOf(tempDir('rs-bootrec-', null));
    await recordBootCheckRun(layout, run({ action: 'counted', invocation: 'aaa' }));
    await recordBootCheckRun(layout, run({ action: 'live', invocation: null, at: '2026-11-27T11:00:00.000Z' }));
    const record = await readBootCheckRecord(layout);
    expect(record).toMatchObject({ last: { action: 'live' }, start: { action: 'counted', invocation: 'aaa' } });
    expect(judgeBootCheck(record, unit('aaa')).at).toBe('ran'); // the run by hand does not hide the start's record
    expect(statSync(layout.bootCheckRecord).mode & 0o777).toBe(0o600);
    expect(readdirSync(layout.root)).toEqual(['boot-check.json']);
  });

  it('an unreadable record is an error, never taken for none', async () => {
    const layout = layoutOf(tempDir('rs-bootrec-', null));
    await import('node:fs').then((fs) => fs.writeFileSync(join(layout.root, 'boot-check.json'), '{"x":1}'));
    await expect(readBootCheckRecord(layout)).rejects.toThrow(/is not a boot-check record/);
    expect(await readBootCheckRecord(layoutOf(tempDir('rs-bootrec-', null)))).toBeUndefined();
  });
});

describe('parseUnitStart', () => {
  it('reads InvocationID, the main start and the state from systemctl show', () => {
    expect(
      parseUnitStart(
        'InvocationID=0123abcd\nExecMainStartTimestamp=Fri 2026-11-27 10:00:01 UTC\nActiveState=active\nSubState=running\n',
      ),
    ).toEqual({ invocation: '0123abcd', startedAt: 'Fri 2026-11-27 10:00:01 UTC', state: 'active/running' });
    expect(parseUnitStart('InvocationID=\nExecMainStartTimestamp=\nActiveState=inactive\nSubState=dead\n')).toEqual({
      invocation: null,
      startedAt: null,
      state: 'inactive/dead',
    });
  });
});

describe('checkpointDue: a transaction owed a state checkpoint before its target first starts', () => {
  const systemd = { supervisor: 'systemd' as const, statePaths: ['~/.gw'] };
  const tx = { from: '1.0.0', to: '1.1.0', restore: undefined };
  it.each([
    ['state paths, a release running, systemd', systemd, tx, true],
    ['the system manager too', { ...systemd, supervisor: 'systemd-system' as const }, tx, true],
    ['no state paths', { ...systemd, statePaths: [] }, tx, false],
    ['a first activation (nothing ran on the state)', systemd, { ...tx, from: null }, false],
    [
      'a way back that puts a checkpoint back instead',
      systemd,
      { ...tx, restore: { snapshot: 's', version: '1.1.0' } },
      false,
    ],
    ['pm2: no boot-check, none is ever taken', { ...systemd, supervisor: 'pm2' as const }, tx, false],
    ['supervisor none', { ...systemd, supervisor: 'none' as const }, tx, false],
  ])('%s', (_name, config, transaction, due) => {
    expect(checkpointDue(config, transaction)).toBe(due);
  });
});
