// followTransaction (`--follow`): waits on the journal for a handed-off transaction's verdict, in-process, on a root
// whose state.json the test writes as a runner would.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { followTransaction } from '../../src/verbs/follow.ts';

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function inFlight(extra: Record<string, unknown>) {
  return {
    id: 'tx-1',
    kind: 'switch',
    status: 'verifying',
    from: '1.0.0',
    to: '1.1.0',
    reason: null,
    startedAt: ago(5_000),
    finishedAt: null,
    steps: [],
    scheduledAt: ago(5_000),
    ...extra,
  };
}

function root(): { dir: string; journal: (state: { transaction: unknown; history?: unknown[] }) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rs-test-follow-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ package: 'my-gateway' }));
  // Written as the runner's journal writes it (a whole file renamed over the old one): follow polls every 20 ms, and
  // a plain write in place could be read half-written under load.
  const journal = (state: { transaction: unknown; history?: unknown[] }) => {
    const next = join(dir, 'state.json.next');
    writeFileSync(next, JSON.stringify({ layoutVersion: 1, releases: {}, operation: null, history: [], ...state }));
    renameSync(next, join(dir, 'state.json'));
  };
  return { dir, journal };
}

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isReleaseSwitcherError(error)) throw new Error(`expected a ReleaseSwitcherError, got ${String(error)}`);
  return { code: error.code, exitCode: error.exitCode, message: error.message };
}

describe('followTransaction', () => {
  it('waits while the runner reports, then resolves with the verdict it journaled', async () => {
    const { dir, journal } = root();
    journal({ transaction: inFlight({ heartbeatAt: ago(0) }) });
    let settled = false;
    const followed = followTransaction({ root: dir, id: 'tx-1', pollMs: 20 }).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    journal({
      transaction: null,
      history: [inFlight({ status: 'verified', finishedAt: ago(0), before: { current: '1.0.0', previous: null } })],
    });
    const tx = await followed;
    expect(tx).toMatchObject({ id: 'tx-1', status: 'verified', to: '1.1.0' });
    expect(tx).not.toHaveProperty('before');
  });

  it('a runner that never reported: failed, runner_never_ran (as status tells it)', async () => {
    const { dir, journal } = root();
    journal({ transaction: inFlight({ status: 'scheduled', scheduledAt: ago(120_000) }) });
    const tx = await followTransaction({ root: dir, id: 'tx-1', pollMs: 20 });
    expect(tx).toMatchObject({ id: 'tx-1', status: 'failed', reason: 'runner_never_ran' });
  });

  it('a runner that stopped reporting mid-switch: INCONSISTENT_ROOT (exit 4), recover named', async () => {
    const { dir, journal } = root();
    journal({ transaction: inFlight({ heartbeatAt: ago(60_000) }) });
    expect(await rejection(followTransaction({ root: dir, id: 'tx-1', pollMs: 20 }))).toEqual({
      code: 'INCONSISTENT_ROOT',
      exitCode: 4,
      message: 'The runner of transaction tx-1 stopped reporting while verifying.',
    });
  });

  it('an id the journal does not know is refused', async () => {
    const { dir, journal } = root();
    journal({ transaction: null, history: [inFlight({ id: 'tx-0', status: 'verified', finishedAt: ago(0) })] });
    expect(await rejection(followTransaction({ root: dir, id: 'tx-1' }))).toMatchObject({ code: 'RELEASE_NOT_FOUND' });
  });

  it('an aborted signal stops the wait with CANCELLED; the transaction is left to its runner', async () => {
    const { dir, journal } = root();
    journal({ transaction: inFlight({ heartbeatAt: ago(0) }) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const stopped = followTransaction({ root: dir, id: 'tx-1', pollMs: 20, signal: controller.signal });
    expect(await rejection(stopped)).toMatchObject({ code: 'CANCELLED', exitCode: 1 });
  });
});
