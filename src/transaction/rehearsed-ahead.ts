/**
 * The target's first start ahead as its rehearsal. Where finalize runs ahead with a first start (the preset's
 * `finalize.ahead.firstStart`, first-start-ahead.ts), the target is already started on the finalized copy, seen at the
 * live path, before the stop: the very state its real start will meet. The rehearsal then started it a second time, on
 * a copy of that copy, only to see it healthy and hold: a gateway start more per update (OpenClaw 2026.9.6: 16 s at a
 * load of 1.8, 33-61 s at a load of 9-10, measured). So when the rehearsal asked for is the preset's own, the first
 * start ahead is held as long as the rehearsal would hold (`preflightFor`) and its verdict is the rehearsal's: the
 * `preflight` step records it (`evidence.by: "first-start-ahead"`) and starts nothing.
 *
 * A first start ahead that failed, by the candidate's own fault, is the rehearsal's failure too: the candidate is
 * refused and marked bad without a second start (and a second wait of up to the verify timeout for one that never
 * becomes healthy). One the environment made fail leaves finalize to the window and the rehearsal runs as before, on
 * a copy of the live state. An operator's own rehearsal (a command, environment, config or prepare step of their own)
 * always runs: it may check what the first start does not.
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
 * The first start ahead whose verdict is this transaction's rehearsal's, or undefined (the rehearsal runs): the
 * rehearsal one it may stand for, and the start either healthy and held at least `preflightFor` (the `finalize-ahead`
 * step ok), or failed by the candidate's own fault (that step `skipped`, finalize left to the window: the candidate is
 * refused as a failed rehearsal refuses it, without being started a second time). A failure the environment caused (a
 * port another process held, the disk full) judges nothing: the rehearsal runs.
 */
export function rehearsedAhead(config: Config, tx: Transaction): FirstStartAhead | undefined {
  if (!firstStartRehearses(config, tx)) return undefined;
  const step = tx.steps.find((s) => s.name === 'finalize-ahead');
  const first = (step?.evidence as { firstStart?: FirstStartAhead } | undefined)?.firstStart;
  if (!first) return undefined;
  if (first.ok) return step?.status === 'ok' && (first.heldMs ?? 0) >= config.preflightFor * 1000 ? first : undefined;
  return first.reason !== undefined && !first.environment ? first : undefined;
}
