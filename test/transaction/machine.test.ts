// The transition table: every pair of statuses is legal or throws INTERNAL, as the table says.
import { describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import {
  IN_FLIGHT_STATUSES,
  TERMINAL_STATUSES,
  type ReleaseRecord,
  type Transaction,
  type TransactionStatus,
} from '../../src/model/state.ts';
import { RELEASE_TRANSITIONS, TRANSITIONS } from '../../src/transaction/machine.ts';
import { closeTransaction, openTransaction, setReleaseState, transition } from '../../src/transaction/record.ts';

const ALL: TransactionStatus[] = [...IN_FLIGHT_STATUSES, ...TERMINAL_STATUSES];
const EXPECTED: Record<TransactionStatus, TransactionStatus[]> = {
  scheduled: ['staging', 'switching', 'failed'],
  staging: ['scheduled', 'failed'],
  switching: ['switching', 'up_to_date', 'switched', 'restarting', 'verifying', 'rolling_back', 'failed'],
  restarting: ['restarting', 'verifying', 'rolling_back', 'switched', 'failed'],
  verifying: ['restarting', 'verifying', 'verified', 'rolling_back', 'switched', 'failed'],
  rolling_back: ['rolling_back', 'rolled_back', 'rollback_failed', 'switched', 'failed'],
  verified: [],
  switched: [],
  up_to_date: [],
  rolled_back: [],
  rollback_failed: [],
  failed: [],
};

function txIn(status: TransactionStatus): Transaction {
  return { ...openTransaction({ kind: 'switch', status: 'switching', from: '1.0.0', to: '1.1.0' }), status };
}

function attempt(from: TransactionStatus, to: TransactionStatus): 'ok' | 'illegal' {
  const tx = txIn(from);
  try {
    if ((TERMINAL_STATUSES as readonly string[]).includes(to))
      closeTransaction(null, tx, { status: to as (typeof TERMINAL_STATUSES)[number] });
    else transition(tx, to);
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'INTERNAL') {
      expect(tx.status).toBe(from); // an illegal move changes nothing
      return 'illegal';
    }
    throw error;
  }
  expect(tx.status).toBe(to);
  return 'ok';
}

describe('transaction state machine', () => {
  it('the table is exactly the expected one', () => {
    expect(Object.fromEntries(Object.entries(TRANSITIONS).map(([k, v]) => [k, [...v]]))).toEqual(EXPECTED);
  });

  it.each(ALL.flatMap((from) => ALL.map((to) => ({ from, to }))))(
    '$from -> $to is legal only when the table says so',
    ({ from, to }) => {
      expect(attempt(from, to)).toBe(EXPECTED[from].includes(to) ? 'ok' : 'illegal');
    },
  );

  it('closing sets finishedAt, fails running steps, and archives the journal transaction', () => {
    const tx = txIn('verifying');
    tx.steps.push({ name: 'verify', status: 'running', ms: 0 });
    const journal = {
      state: { transaction: tx, history: [] as Transaction[] },
      archiveTransaction() {
        this.state.history.push(tx);
        this.state.transaction = null as never;
        return tx;
      },
    };
    closeTransaction(journal as never, tx, { status: 'verified' });
    expect(tx.finishedAt).toEqual(expect.any(String));
    expect(tx.steps[0]!.status).toBe('failed');
    expect(journal.state.transaction).toBeNull();
    expect(journal.state.history).toEqual([tx]);
  });

  it('a scheduled transaction carries when it was handed over', () => {
    const tx = openTransaction({ kind: 'update', status: 'scheduled', from: null, to: '2.0.0' });
    expect(tx.scheduledAt).toBe(tx.startedAt);
    expect(tx.finishedAt).toBeNull();
  });

  it('a scheduled transaction carries every order of its request: the runner reads them from the journal', () => {
    const orders = {
      spec: 'pkg@2.0.0',
      preflight: false as const,
      acceptCapabilities: true as const,
      checkpoint: '20261126000000-abcdef',
      node: '/opt/node24/bin/node',
      channel: { channel: 'beta', from: 'config.json channel' },
    };
    const tx = openTransaction({ kind: 'update', status: 'scheduled', from: '1.0.0', to: '2.0.0', ...orders });
    expect(tx).toMatchObject(orders);
  });

  it('release states move only along their table; bad keeps its reason', () => {
    const record: ReleaseRecord = {
      version: '1.0.0',
      state: 'installed',
      pinned: false,
      installedAt: '',
      integrity: null,
      source: '',
    };
    expect(RELEASE_TRANSITIONS.bad).not.toContain('pending');
    setReleaseState(record, 'pending');
    setReleaseState(record, 'bad', 'crashed: x');
    expect(record).toMatchObject({ state: 'bad', reason: 'crashed: x' });
    expect(() => setReleaseState(record, 'pending')).toThrow(/Illegal transition/);
    expect(() => setReleaseState(record, 'installed')).toThrow(/Illegal transition/);
  });
});
