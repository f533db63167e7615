// transaction/record.ts is the record's one writer: model/state.ts declares the record read-only and record.ts alone
// holds a writable view, so a write elsewhere does not compile (record-owner.test-d.ts, run by vitest typecheck).
// check-layers (npm run lint) refuses what those types let through (a step written by index or the steps' length,
// Object.assign onto a record) and a process started outside platform/subprocess.ts. The rules are checked here
// against what they must catch and what they must let through, and against src/ as it is.
import { describe, expect, it } from 'vitest';
import { problems, recordWritesIn, startsProcesses } from '../../scripts/check-layers.mjs';

// What the types cannot refuse (each line here compiles against model/state.ts's read-only types).
const writes = [
  "tx.steps[0] = { name: 'flip', status: 'ok', ms: 0 };",
  'run.tx.steps[run.tx.steps.length - 1] = step;',
  'tx.steps.length = 0;',
  "Object.assign(tx, { hint: 'look at it' });",
  "Object.assign(record, { state: 'bad' });",
  'Object.assign(journal.state, { transaction: null });',
  'journal.archiveTransaction();',
];
const reads = [
  "const restarted = tx.steps.some((step) => step.name === 'restart' && step.status === 'ok');",
  'const last = tx.steps[tx.steps.length - 1];',
  'if (tx.steps.length === 0) return;',
  '// tx.steps[0] = is record.ts business',
  'Object.assign(env, kept);',
  'const options = Object.assign({}, tx);',
];

describe('one writer of the record', () => {
  it.each(writes)('a write is recognised: %s', (line) => {
    expect(recordWritesIn(line)).toHaveLength(1);
  });

  it.each(reads)('a read is not: %s', (line) => {
    expect(recordWritesIn(line)).toEqual([]);
  });

  it('src/ writes the record only in transaction/record.ts and starts processes only in platform/subprocess.ts', () => {
    expect(problems).toEqual([]);
  });

  it('child_process and execa are recognised however they are imported', () => {
    expect(startsProcesses("import { spawn } from 'node:child_process';")).toBe(true);
    expect(startsProcesses("const { execa } = await import('execa');")).toBe(true);
    expect(startsProcesses("import type { ResultPromise } from 'execa';")).toBe(true);
    expect(startsProcesses("import { run } from '../platform/subprocess.js';")).toBe(false);
  });
});
