// A malformed transaction in state.json is CORRUPT_STATE (exit 4, hint, no stack), never INTERNAL.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyState } from '../../src/store/journal.ts';
import { fixtureRoot, rs } from '../support/cli.ts';

const base = {
  id: 'x1',
  kind: 'switch',
  status: 'verified',
  from: '1.0.0',
  to: '1.1.0',
  reason: null,
  startedAt: '2026-01-01T00:00:00Z',
  finishedAt: '2026-01-01T00:00:01Z',
  steps: [],
};
const malformed: [string, Record<string, unknown>][] = [
  ['transaction is a string', { transaction: 'oops' }],
  ['transaction with an unknown status', { transaction: { ...base, status: 'exploded' } }],
  ['transaction without steps', { transaction: { ...base, status: 'switching', steps: undefined } }],
  ['transaction with a bad step', { transaction: { ...base, status: 'switching', steps: [{ name: 'flip' }] } }],
  ['history entry with an unknown kind', { history: [{ ...base, kind: 'teleport' }] }],
  ['history entry that is null', { history: [null] }],
  ['history entry with a numeric to', { history: [{ ...base, to: 110 }] }],
];

describe('journal validation', () => {
  it.each(malformed)('%s → CORRUPT_STATE, exit 4, a hint, no stack', async (_name, change) => {
    const root = await fixtureRoot();
    const file = join(root, 'state.json');
    writeFileSync(file, JSON.stringify({ ...emptyState(), ...change }));
    for (const args of [['status'], ['recover'], ['switch', '1.0.0']]) {
      const r = await rs(root, args);
      expect(r.exitCode, r.stdout + r.stderr).toBe(4);
      expect(r.json.error).toMatchObject({ code: 'CORRUPT_STATE', hint: expect.stringContaining('recover') });
      expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a well-formed journal with a transaction in history still reads', async () => {
    const root = await fixtureRoot();
    const file = join(root, 'state.json');
    writeFileSync(file, JSON.stringify({ ...emptyState(), history: [base] }));
    const r = await rs(root, ['status']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.transaction).toMatchObject({ id: 'x1', status: 'verified' });
  });
});
