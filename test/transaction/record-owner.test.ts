// transaction/record.ts is the record's one writer: check-layers (npm run lint) refuses a write to a transaction,
// a step or a release record anywhere else, and a process started outside platform/subprocess.ts. The rules are
// checked here against what they must catch and what they must let through, and against src/ as it is.
import { describe, expect, it } from 'vitest';
import { problems, recordWritesIn, startsProcesses } from '../../scripts/check-layers.mjs';

const writes = [
  'journal.state.transaction = tx;',
  "journal.state.releases[version] = { version, state: 'installed' };",
  'delete journal.state.releases[version];',
  'journal.state.operation = null;',
  "tx.steps.push({ name: 'flip', status: 'ok', ms: 0 });",
  "run.tx.hint = 'look at it';",
  'tx.heartbeatAt = new Date().toISOString();',
  "step.detail = 'done';",
  'step.detail += `; more`;',
  "step.status = 'failed';",
  'record.pinned = true;',
  "if (record) record.state = 'bad';",
  'delete tx.restore;',
  'journal.archiveTransaction();',
];
const reads = [
  "const target = previous && journal.state.releases[previous]?.state !== 'bad' ? previous : undefined;",
  'const record = journal.state.releases[options.version];',
  "const restarted = tx.steps.some((step) => step.name === 'restart' && step.status === 'ok');",
  "if (step.status === 'running') continue;",
  'const last = tx.steps.at(-1);',
  '// tx.hint = is what failRollback sets',
  'const request = tx.restore;',
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
