// transaction/record.ts is the record's one writer, by types: model/state.ts declares transactions, their steps,
// release records, operations and the journal's state read-only, and only record.ts holds a writable view of them.
// Each write below is one another module might try; `@ts-expect-error` fails this file (vitest typecheck, with the
// unit tier) the day such a write compiles. The control: the same changes through record.ts compile.
import { describe, expectTypeOf, it } from 'vitest';
import type { ReleaseRecord, State, Step, Transaction, TransactionWarning } from '../../src/model/state.ts';
import type { Journal } from '../../src/store/journal.ts';
import {
  addWarnings,
  forgetRelease,
  noteStep,
  recordRelease,
  setFields,
  setPinned,
  setReleaseNode,
  setReleaseState,
  transition,
} from '../../src/transaction/record.ts';

declare const journal: Journal;
declare const tx: Transaction;
declare const step: Step;
declare const record: ReleaseRecord;
declare const warnings: TransactionWarning[];

describe('the record is read-only outside transaction/record.ts', () => {
  it('a transaction: its fields, its steps, its warnings and window', () => {
    // @ts-expect-error a status moves through record.ts transition/closeTransaction
    tx.status = 'failed';
    // @ts-expect-error setFields
    tx.hint = 'look at it';
    // @ts-expect-error setFields (undefined removes a field)
    delete tx.restore;
    // @ts-expect-error noteStep, beginStep, runStep
    tx.steps.push({ name: 'flip', status: 'ok', ms: 0 });
    // @ts-expect-error addWarnings (formerly steps.ts and finalize-step.ts wrote them in place)
    tx.warnings = [...(tx.warnings ?? []), ...warnings];
    // @ts-expect-error setFields({ window }) (formerly steps.ts finish)
    tx.window = { parts: [], totalMs: 0 };
    // @ts-expect-error nested values are read-only too
    if (tx.progress) tx.progress.phase = 'stage';
    // @ts-expect-error a step changes through its StepHandle only
    step.detail = 'done';
    // @ts-expect-error
    step.status = 'failed';
  });

  it('a release record and the journal state', () => {
    // @ts-expect-error setReleaseState, markPending, markGood, markBad
    record.state = 'bad';
    // @ts-expect-error setPinned
    record.pinned = true;
    // @ts-expect-error setReleaseNode (formerly runtime.ts wrote it in place)
    record.node = { path: '/usr/bin/node', version: '22.0.0' };
    // @ts-expect-error recordRelease
    journal.state.releases['1.0.0'] = record;
    // @ts-expect-error forgetRelease
    delete journal.state.releases['1.0.0'];
    // @ts-expect-error enterTransaction, closeTransaction
    journal.state.transaction = null;
    // @ts-expect-error beginOperation, endOperation
    journal.state.operation = null;
    // @ts-expect-error closeTransaction moves a transaction to history
    journal.state.history.push(tx);
    // @ts-expect-error the journal loads and saves the state whole; nobody swaps it
    journal.state = { ...journal.state };
    expectTypeOf(journal.state).toEqualTypeOf<State>();
  });

  it('the control: the same writes through record.ts compile', () => {
    expectTypeOf(transition).toBeCallableWith(tx, 'switching');
    expectTypeOf(setFields).toBeCallableWith(tx, {
      hint: 'look at it',
      restore: undefined,
      window: { parts: [], totalMs: 0 },
    });
    expectTypeOf(noteStep).toBeCallableWith(tx, 'flip', 'ok', 'flipped');
    expectTypeOf(addWarnings).toBeCallableWith(tx, warnings);
    expectTypeOf(setReleaseState).toBeCallableWith(record, 'bad', 'why');
    expectTypeOf(setPinned).toBeCallableWith(record, true);
    expectTypeOf(setReleaseNode).toBeCallableWith(record, { path: '/usr/bin/node', version: '22.0.0' });
    expectTypeOf(recordRelease).toBeCallableWith(journal, record);
    expectTypeOf(forgetRelease).toBeCallableWith(journal, '1.0.0');
  });
});
