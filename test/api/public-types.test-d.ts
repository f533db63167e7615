// Type tests of the public API (vitest typecheck: `npm test` and `npm run test:unit` run them through tsc). They pin
// what a user of the package root can name and what the verbs take and return; internals are not on the root.
import { describe, expectTypeOf, it } from 'vitest';
import {
  type ErrorCode,
  type ListResult,
  type ReleaseInfo,
  type ReleaseState,
  type ReleaseSwitcherError,
  type StatusResult,
  type Step,
  type Transaction,
  type TransactionKind,
  type TransactionStatus,
  type UpdateStatus,
  isReleaseSwitcherError,
  list,
  planSwitchTo,
  requestUpdate,
  rollback,
  runCli,
  status,
  switchTo,
  update,
  updateStatus,
} from '../../src/index.ts';

type Root = typeof import('../../src/index.ts');
type Internals = typeof import('../../src/internals.ts');

describe('the public types', () => {
  it('a transaction is what docs/exit-codes-and-json.md shows', () => {
    expectTypeOf<TransactionStatus>().toEqualTypeOf<
      | 'verified'
      | 'switched'
      | 'up_to_date'
      | 'rolled_back'
      | 'rollback_failed'
      | 'failed'
      | 'staging'
      | 'switching'
      | 'restarting'
      | 'verifying'
      | 'rolling_back'
      | 'scheduled'
    >();
    expectTypeOf<TransactionKind>().toEqualTypeOf<'update' | 'switch' | 'rollback' | 'recover'>();
    expectTypeOf<ReleaseState>().toEqualTypeOf<'installed' | 'pending' | 'good' | 'bad'>();
    expectTypeOf<Transaction>().toMatchTypeOf<{
      id: string;
      kind: TransactionKind;
      status: TransactionStatus;
      from: string | null;
      to: string | null;
      reason: string | null;
      startedAt: string;
      finishedAt: string | null;
      steps: Step[];
    }>();
    expectTypeOf<Step>().toMatchTypeOf<{ name: string; status: string; ms: number; detail?: string }>();
  });

  it('the activating verbs return a transaction; the readers return their results', () => {
    expectTypeOf(switchTo).returns.resolves.toEqualTypeOf<Transaction>();
    expectTypeOf(rollback).returns.resolves.toEqualTypeOf<Transaction>();
    expectTypeOf(update).returns.resolves.toEqualTypeOf<Transaction>();
    expectTypeOf(requestUpdate).returns.resolves.toEqualTypeOf<Transaction>();
    expectTypeOf(switchTo).parameter(0).toMatchTypeOf<{ root: string; version: string }>();
    expectTypeOf(list).returns.resolves.toEqualTypeOf<ListResult>();
    expectTypeOf<ListResult['releases']>().toEqualTypeOf<ReleaseInfo[]>();
    expectTypeOf<ReleaseInfo['state']>().toEqualTypeOf<ReleaseState>();
    expectTypeOf(status).returns.resolves.toEqualTypeOf<StatusResult>();
    expectTypeOf<StatusResult['transaction']>().toEqualTypeOf<Transaction | null>();
    expectTypeOf(updateStatus).returns.resolves.toEqualTypeOf<UpdateStatus>();
    expectTypeOf(planSwitchTo).returns.resolves.toHaveProperty('steps');
    expectTypeOf(runCli).returns.resolves.toEqualTypeOf<number>();
  });

  it('the one error: a stable code, recognised by its brand', () => {
    expectTypeOf<ReleaseSwitcherError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<'BUSY' | 'CANCELLED' | 'PREFLIGHT_FAILED' | 'NOT_INITIALIZED'>().toMatchTypeOf<ErrorCode>();
    expectTypeOf(isReleaseSwitcherError).guards.toEqualTypeOf<ReleaseSwitcherError>();
    expectTypeOf<ReleaseSwitcherError['exitCode']>().toEqualTypeOf<0 | 1 | 2 | 3 | 4 | 5>();
  });

  it('internals are under release-switcher/internals, not on the root', () => {
    expectTypeOf<Root>().not.toHaveProperty('rolloutBucket');
    expectTypeOf<Root>().not.toHaveProperty('timerStem');
    expectTypeOf<Root>().not.toHaveProperty('LOCK_STALE_MS');
    expectTypeOf<Root>().not.toHaveProperty('layoutOf');
    expectTypeOf<Internals>().toHaveProperty('rolloutBucket');
    expectTypeOf<Internals>().toHaveProperty('timerStem');
    expectTypeOf<Internals>().toHaveProperty('LOCK_STALE_MS');
    expectTypeOf<Internals['LOCK_STALE_MS']>().toMatchTypeOf<number>();
  });
});
