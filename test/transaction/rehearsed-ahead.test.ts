// When the target's first start ahead stands for its rehearsal (transaction/rehearsed-ahead.ts): the rehearsal asked for
// is the preset's own, and the finalize-ahead step's first start was healthy and held as long as the rehearsal holds.
// The real gateway's case is finalize-ahead.openclaw.test.ts's (the update whose finalize was done ahead).
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/model/state.ts';
import { presetOf } from '../../src/presets/index.ts';
import { type Config, defaultConfig } from '../../src/store/config.ts';
import { firstStartRehearses, rehearsedAhead } from '../../src/transaction/rehearsed-ahead.ts';

const openclaw: Config = { ...defaultConfig('openclaw'), ...presetOf('openclaw').settings, preset: 'openclaw' };
const held = { ok: true, detail: 'started', port: 40000, healthyAfterMs: 9000, heldMs: 5000, ms: 15000 };
const txWith = (firstStart: unknown, status = 'ok', extra: Partial<Transaction> = {}): Transaction =>
  ({
    id: 't',
    steps: [
      { name: 'verify-release', status: 'ok', ms: 1 },
      { name: 'finalize-ahead', status, ms: 1, evidence: { firstStart } },
    ],
    ...extra,
  }) as unknown as Transaction;

describe('firstStartRehearses', () => {
  it("the preset's own rehearsal, asked for: yes", () => {
    expect(firstStartRehearses(openclaw, {})).toBe(true);
  });
  it('--no-preflight, no rehearsal configured, or none of a preset: no', () => {
    expect(firstStartRehearses(openclaw, { preflight: false })).toBe(false);
    expect(firstStartRehearses({ ...openclaw, preflight: null }, {})).toBe(false);
    expect(firstStartRehearses({ ...openclaw, preset: 'rs-unknown', package: 'rs-unknown' }, {})).toBe(false);
  });
  it("an operator's own command, environment, config or prepare step: no (it may check what a start does not)", () => {
    expect(
      firstStartRehearses({ ...openclaw, preflight: ['dist/index.js', 'gateway', '--port', '{port}', '-v'] }, {}),
    ).toBe(false);
    expect(firstStartRehearses({ ...openclaw, preflightEnv: { ...openclaw.preflightEnv, MY_CHECK: '1' } }, {})).toBe(
      false,
    );
    expect(firstStartRehearses({ ...openclaw, preflightConfig: { gateway: { mode: 'local' } } }, {})).toBe(false);
    expect(firstStartRehearses({ ...openclaw, preflightPrepare: null }, {})).toBe(false);
  });
});

describe('rehearsedAhead', () => {
  it('a first start healthy and held as long as the rehearsal holds stands for it', () => {
    expect(rehearsedAhead(openclaw, txWith(held))).toEqual(held);
  });
  it('held less than preflightFor, not healthy, or its step not ok (finalize left to the window): the rehearsal runs', () => {
    expect(rehearsedAhead({ ...openclaw, preflightFor: 6 }, txWith(held))).toBeUndefined();
    expect(rehearsedAhead(openclaw, txWith({ ...held, heldMs: 0 }))).toBeUndefined();
    expect(rehearsedAhead(openclaw, txWith({ ...held, ok: false }))).toBeUndefined();
    expect(rehearsedAhead(openclaw, txWith(held, 'skipped'))).toBeUndefined();
    expect(rehearsedAhead(openclaw, txWith(undefined))).toBeUndefined();
  });
  it('asked without the rehearsal (--no-preflight): nothing stands for one', () => {
    expect(rehearsedAhead(openclaw, txWith(held, 'ok', { preflight: false }))).toBeUndefined();
  });
});
