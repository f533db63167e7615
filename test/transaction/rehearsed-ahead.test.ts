// When the target's first start ahead stands for its rehearsal (transaction/rehearsed-ahead.ts): the rehearsal asked for
// is the preset's own, and the finalize-ahead step's first start was healthy and held as long as the rehearsal holds.
// The real gateway's case is finalize-ahead.openclaw.test.ts's (the update whose finalize was done ahead).
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/model/state.ts';
import { presetOf } from '../../src/presets/index.ts';
import { type Config, defaultConfig } from '../../src/store/config.ts';
import { firstStartRehearses, rehearsedAhead } from '../../src/transaction/rehearsed-ahead.ts';

const openclaw: Config = { ...defaultConfig('openclaw'), ...presetOf('openclaw').settings, preset: 'openclaw' };
const verdict = { detail: 'healthy', probes: 9, lastHttpStatus: 200, lastVersion: '2.0.0' };
const held = { ok: true, detail: 'started', verdict, port: 40000, healthyAfterMs: 9000, heldMs: 5000, ms: 15000 };
const crashed = { ...held, ok: false, detail: 'crashed: exited 1', reason: 'crashed', healthyAfterMs: null, heldMs: 0 };
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
  it('held less than preflightFor, its step not ok, or no first start made: the rehearsal runs', () => {
    expect(rehearsedAhead({ ...openclaw, preflightFor: 6 }, txWith(held))).toBeUndefined();
    expect(rehearsedAhead(openclaw, txWith({ ...held, heldMs: 0 }))).toBeUndefined();
    expect(rehearsedAhead(openclaw, txWith(held, 'skipped'))).toBeUndefined();
    expect(rehearsedAhead(openclaw, txWith(undefined))).toBeUndefined();
  });
  it("a first start that failed by the candidate's fault is the rehearsal's verdict; by the environment's, the rehearsal runs", () => {
    expect(rehearsedAhead(openclaw, txWith(crashed, 'skipped'))).toEqual(crashed);
    const { reason: _, ...blamed } = crashed;
    expect(rehearsedAhead(openclaw, txWith({ ...blamed, environment: true }, 'skipped'))).toBeUndefined();
    // An operator's own rehearsal judges for itself.
    expect(rehearsedAhead({ ...openclaw, preflightFor: 9, preflightPrepare: null }, txWith(crashed, 'skipped'))).toBe(
      undefined,
    );
  });
  it('asked without the rehearsal (--no-preflight): nothing stands for one', () => {
    expect(rehearsedAhead(openclaw, txWith(held, 'ok', { preflight: false }))).toBeUndefined();
  });
});
