// A transaction owed a state checkpoint (state paths, a systemd unit, a release running on the state) that finds none
// after its target started, driven in-process with a fake supervisor: its verification fails with reason
// state_checkpoint_missing and it goes back the usual way, the record saying that no checkpoint went back. Control:
// the same switch whose restart runs the real boot-check (systemd asked through a stand-in that answers "in
// ExecStartPre") takes the checkpoint and is verified. End to end under a real systemd --user, with the boot-check's
// command gone: test/transaction/boot-check-gone.system.test.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { transactionOutcome } from '../../src/cli/format.ts';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import type { CommandRunner } from '../../src/service/supervisors/types.ts';
import { bootCheck } from '../../src/verbs/boot-check.ts';
import { readBootCheckRecord } from '../../src/store/boot-check-record.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir, templateRoot } from '../support/cli.ts';
import { linkOf, readState } from '../support/root.ts';
import { FakeSupervisor, fakeSupervision, switchThrough } from './fake-supervisor.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it drives transactions and the boot-check in this process (as root) on roots it made: root acts only on roots of its own',
);

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = templateRoot(['1.0.0', '1.2.0']);
const supervise = fakeSupervision();

/** systemctl as the boot-check sees it in the unit's ExecStartPre: no main process yet, this start's InvocationID. */
const inStartPre: CommandRunner = async () => ({
  exitCode: 0,
  output:
    'ActiveState=activating\nSubState=start-pre\nMainPID=0\nNRestarts=0\nResult=success\nLoadState=loaded\nInvocationID=0f0f0f\n',
  timedOut: false,
});

/** A fake whose restart runs the real boot-check first, as the unit's ExecStartPre would. */
class WithBootCheck extends FakeSupervisor {
  override async restart(): Promise<void> {
    await bootCheck({ root: this.rootDir, env: {}, runner: inStartPre });
    await super.restart();
  }
  constructor(readonly rootDir: string) {
    super(rootDir);
  }
}

async function withState(): Promise<{ root: string; state: string }> {
  const root = freshRoot();
  const state = join(tempDir('rs-state-', null), 'gw');
  mkdirSync(state);
  writeFileSync(join(state, 'state.db'), '{"schema":1}\n');
  return { root, state };
}

describe('a transaction owed a state checkpoint', () => {
  it('finds none after the start (no boot-check ran): verify fails state_checkpoint_missing, 1.0.0 back, the record honest', async () => {
    const { root, state } = await withState();
    const fake = await supervise(root, {}, { statePaths: [state] });
    const tx = await switchThrough(root, fake, '1.2.0');
    expect(tx).toMatchObject({ status: 'rolled_back', reason: 'state_checkpoint_missing', from: '1.0.0', to: '1.2.0' });
    expect(tx.snapshot).toBeUndefined();
    const verify = tx.steps.find((s) => s.name === 'verify');
    expect(verify).toMatchObject({ status: 'failed' });
    expect(verify?.detail).toMatch(
      /^state_checkpoint_missing: no state checkpoint was taken before 1\.2\.0 first started \(.*\): 1\.2\.0 may have changed the state, a migration included, and nothing can put back the state 1\.0\.0 left\. .*release-switcher unit --install/,
    );
    expect(tx.steps.find((s) => s.name === 'restore-state')).toMatchObject({
      status: 'skipped',
      detail: expect.stringMatching(
        /^nothing to put back: no state checkpoint was taken before 1\.2\.0 first started: the boot-check took none; 1\.0\.0 starts on the state as 1\.2\.0 left it, with whatever 1\.2\.0 changed in it \(a migration included\)$/,
      ),
    });
    expect(tx.steps.find((s) => s.name === 'rollback')?.detail).toMatch(
      /^no state checkpoint was taken before 1\.2\.0 first started \(.*\); current -> releases\/1\.0\.0$/,
    );
    expect(tx.steps.find((s) => s.name === 'verify-previous')).toMatchObject({ status: 'ok' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(fake.running).toBe('1.0.0');
    expect(readState(root).releases['1.2.0']).toMatchObject({
      state: 'bad',
      reason: expect.stringMatching(/^state_checkpoint_missing: /),
    });
    // What the CLI reports: its own code, exit 3 (rolled back), a message that says the state was not put back.
    let thrown: unknown;
    try {
      transactionOutcome(tx);
    } catch (error) {
      thrown = error;
    }
    expect(isReleaseSwitcherError(thrown) && thrown.code).toBe('STATE_CHECKPOINT_MISSING');
    expect(isReleaseSwitcherError(thrown) && thrown.exitCode).toBe(3);
    expect((thrown as Error).message).toMatch(
      /1\.0\.0 is running again and verified, on the state 1\.2\.0 left: no checkpoint went back/,
    );
  });

  it('control: the boot-check runs at the restart, takes the checkpoint and records the start; verified', async () => {
    const { root, state } = await withState();
    await supervise(root, {}, { statePaths: [state] }); // the config (health URL, unit); its fake is replaced
    const fake = new WithBootCheck(root);
    await fake.listen();
    fake.running = '1.0.0';
    const { configureRoot } = await import('./fake-supervisor.ts');
    configureRoot(root, { healthUrl: fake.url });
    try {
      const tx = await switchThrough(root, fake, '1.2.0');
      expect(tx).toMatchObject({ status: 'verified', snapshot: tx.id });
      const record = await readBootCheckRecord(layoutOf(root));
      expect(record?.start).toMatchObject({
        invocation: '0f0f0f',
        action: 'counted',
        snapshot: tx.id,
        version: '1.2.0',
      });
    } finally {
      await fake.close();
    }
  });

  it('not owed one without state paths: verified with no checkpoint', async () => {
    const root = freshRoot();
    const fake = await supervise(root);
    const tx = await switchThrough(root, fake, '1.2.0');
    expect(tx).toMatchObject({ status: 'verified' });
    expect(tx.snapshot).toBeUndefined();
  });
});
