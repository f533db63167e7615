/**
 * The target's first start ahead as its rehearsal. Where finalize runs ahead with a first start (the preset's
 * `finalize.ahead.firstStart`, first-start-ahead.ts), the target is already started on the finalized copy, seen at the
 * live path, before the stop: the very state its real start will meet. The rehearsal then started it a second time, on
 * a copy of that copy, only to see it healthy and hold: a gateway start more per update (OpenClaw 2026.9.6: 16 s at a
 * load of 1.8, 33-61 s at a load of 9-10, measured). So when the rehearsal asked for is the preset's own, the first
 * start ahead is held as long as the rehearsal would hold (`preflightFor`) and its verdict is the rehearsal's: the
 * `preflight` step records it (`evidence.by: "first-start-ahead"`) and starts nothing.
 *
 * An operator's own rehearsal (a command, environment, config or prepare step of their own) still runs: it may check
 * what the first start does not. A first start ahead that failed leaves finalize to the window and the rehearsal runs
 * as before, on a copy of the live state, and judges the candidate (refused, marked bad, or the environment blamed).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Transaction } from '../model/state.js';
import { servicePreset } from '../presets/index.js';
import type { Config } from '../store/config.js';
import type { FirstStartAhead } from './first-start-ahead.js';
import { preflightWanted } from './preflight-wanted.js';

/** Whether this transaction's rehearsal is one the first start ahead can stand for: the preset's own, asked for. */
export function firstStartRehearses(config: Config, tx: Pick<Transaction, 'preflight'>): boolean {
  if (tx.preflight === false || !preflightWanted(config)) return false;
  const own = servicePreset(config)?.settings;
  if (!own?.preflight) return false;
  return (
    isDeepStrictEqual(config.preflight, own.preflight) &&
    isDeepStrictEqual(config.preflightEnv, own.preflightEnv ?? {}) &&
    isDeepStrictEqual(config.preflightConfig, own.preflightConfig ?? null) &&
    isDeepStrictEqual(config.preflightPrepare, own.preflightPrepare ?? null)
  );
}

/**
 * The first start ahead that stands for this transaction's rehearsal, or undefined: the `finalize-ahead` step ok, its
 * first start healthy and held at least `preflightFor`, and the rehearsal one it may stand for.
 */
export function rehearsedAhead(config: Config, tx: Transaction): FirstStartAhead | undefined {
  if (!firstStartRehearses(config, tx)) return undefined;
  const step = tx.steps.find((s) => s.name === 'finalize-ahead');
  const first = (step?.evidence as { firstStart?: FirstStartAhead } | undefined)?.firstStart;
  if (step?.status !== 'ok' || !first?.ok) return undefined;
  return (first.heldMs ?? 0) >= config.preflightFor * 1000 ? first : undefined;
}
