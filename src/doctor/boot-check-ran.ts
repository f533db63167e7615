/**
 * doctor's check that the boot-check ran at the service's present start: its record (boot-check.json) names the
 * unit's InvocationID (store/boot-check-record.ts). A boot-check that cannot even load (its installation moved:
 * `Cannot find module`) writes nothing and the unit's `-` prefix lets the start go on, so "no record of this start"
 * is the finding; without it no state checkpoint is taken before a release first starts.
 */
import { bootCheckHint, judgeBootCheck, readBootCheckRecord } from '../store/boot-check-record.js';
import { unitStart } from '../service/unit-start.js';
import type { CheckContext, CheckResult } from './checks.js';

const NAME = 'boot-check-ran';

export async function bootCheckRan(ctx: CheckContext): Promise<CheckResult | null> {
  const { config, layout } = ctx;
  if ((config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') || !config.unit) return null;
  const record = await readBootCheckRecord(layout).catch((error: Error) => error);
  if (record instanceof Error)
    return { name: NAME, ok: false, detail: `the boot-check's record cannot be read: ${record.message}` };
  const verdict = judgeBootCheck(record, await unitStart(config, { env: ctx.env, signal: ctx.signal }));
  if (verdict.at === 'ran') {
    const stateError = verdict.run.stateError;
    return stateError
      ? { name: NAME, ok: true, warning: true, detail: `${verdict.detail}; the state was not checkpointed or put back` }
      : { name: NAME, ok: true, detail: verdict.detail };
  }
  if (verdict.at === 'unknown') return { name: NAME, ok: true, warning: true, detail: verdict.detail };
  // A root that never had a record and keeps no state: a boot-check older than the record may have run; only said.
  if (!record && config.statePaths.length === 0)
    return {
      name: NAME,
      ok: true,
      warning: true,
      detail: `${verdict.detail}; no boot-check has recorded a run in this root (one older than the record writes none)`,
    };
  return { name: NAME, ok: false, detail: `${verdict.detail}. ${bootCheckHint(config)}` };
}
