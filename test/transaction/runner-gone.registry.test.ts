// A scheduled transaction never holds the root BUSY forever: a runner that fails closes it, a runner
// whose heartbeat went stale is declared dead by the next mutation; `recover` exits 4 on rollback_failed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { runScheduled } from '../../src/transaction/schedule.ts';
import { rs, templateRoot } from '../support/cli.ts';
import { linkOf, readState } from '../support/root.ts';

import { runThisFileAsRoot } from '../support/accounts.ts';
runThisFileAsRoot('it drives the library in this process (root) beside the CLI on the same root');

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = templateRoot(['1.0.0', '1.2.0']);

function journal(root: string, transaction: Record<string, unknown>): void {
  const file = join(root, 'state.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), transaction }));
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const scheduled = (extra: Record<string, unknown>) => ({
  id: 'tx-sched',
  kind: 'update',
  status: 'scheduled',
  from: '1.0.0',
  to: '1.2.0',
  reason: null,
  startedAt: ago(120_000),
  finishedAt: null,
  steps: [],
  before: { current: '1.0.0', previous: null },
  scheduledAt: ago(120_000),
  ...extra,
});

describe('a scheduled transaction whose runner is gone', () => {
  it('a heartbeat gone stale: the next mutation closes it failed/runner_died and goes on', async () => {
    const root = freshRoot();
    journal(root, scheduled({ heartbeatAt: ago(60_000) }));
    const r = await rs(root, ['switch', '1.2.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const closed = readState(root).history.find((tx: { id: string }) => tx.id === 'tx-sched');
    expect(closed).toMatchObject({ status: 'failed', reason: 'runner_died', finishedAt: expect.any(String) });
    expect(linkOf(root, 'current')).toBe('releases/1.2.0');
  });

  it('a fresh heartbeat: BUSY (exit 5), the transaction stays', async () => {
    const root = freshRoot();
    journal(root, scheduled({ heartbeatAt: ago(1_000) }));
    const r = await rs(root, ['recover']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(5);
    expect(r.json.error.code).toBe('BUSY');
    expect(readState(root).transaction.status).toBe('scheduled');
  });

  it('status shows a dead runner as failed/runner_died before anyone recovers', async () => {
    const root = freshRoot();
    journal(root, scheduled({ heartbeatAt: ago(60_000) }));
    const r = await rs(root, ['status']);
    expect(r.json.result.transaction).toMatchObject({ id: 'tx-sched', status: 'failed', reason: 'runner_died' });
  });

  it('a runner that fails before its flip closes its own transaction (no BUSY afterwards)', async () => {
    const root = freshRoot();
    journal(root, scheduled({ to: '9.9.9', scheduledAt: new Date().toISOString() }));
    const error = await runScheduled({ root, id: 'tx-sched' }).catch((e: unknown) => e);
    expect(isReleaseSwitcherError(error) && error.code).toBe('RELEASE_NOT_FOUND');
    const state = readState(root);
    expect(state.transaction).toBeNull();
    expect(state.history.at(-1)).toMatchObject({ id: 'tx-sched', status: 'failed', reason: 'release_not_found' });
    expect(state.history.at(-1).heartbeatAt).toEqual(expect.any(String)); // it had reported
    expect((await rs(root, ['switch', '1.2.0'])).exitCode).toBe(0);
  });
});

describe('recover exit codes', () => {
  it('recover that ends rollback_failed exits 4 with the transaction as the result', async () => {
    const root = freshRoot();
    const config = join(root, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        ...JSON.parse(readFileSync(config, 'utf8')),
        supervisor: 'systemd',
        unit: 'rs-none-such.service',
      }),
    );
    // Interrupted while rolling back with nowhere to go back to: the way back can only fail.
    journal(root, {
      id: 'tx-rb',
      kind: 'switch',
      status: 'rolling_back',
      from: null,
      to: '1.0.0',
      reason: 'unhealthy',
      startedAt: ago(5_000),
      finishedAt: null,
      steps: [],
    });
    const r = await rs(root, ['recover']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    expect(r.json).toMatchObject({
      ok: false,
      error: { code: 'ROLLBACK_FAILED' },
      result: { id: 'tx-rb', status: 'rollback_failed' },
    });
    expect(readState(root).transaction).toBeNull();
  });
});
