/**
 * The boot-check's own record of its runs (`<root>/boot-check.json`), so that a boot-check that failed, or never ran,
 * is seen by `status`, `doctor` and the transaction, not only in the unit's log. A boot-check that cannot even load
 * (its installation moved: `Cannot find module`) writes nothing, and the unit's `-` prefix lets the start go on: so
 * the readers ask which start of the unit a record belongs to (systemd's InvocationID, new at every start) and call a
 * start with no record of its own "the boot-check did not run". Written like boot-tries.json: atomically, without the
 * lock (a runner may hold it, waiting for this very start), by the account that runs the boot-check, 0600.
 */
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import type { Layout } from './layout.js';

/** One run of the boot-check. */
export interface BootCheckRun {
  /** When it ended (ISO-8601). */
  at: string;
  /** The release-switcher version that ran (null when its package.json could not be read). */
  tool: string | null;
  /** The unit's InvocationID at this run (systemd: one per start), or null where there is none to ask. */
  invocation: string | null;
  /** What it did (the boot-check's `action`), or `error`: it failed in its own code. */
  action: string;
  /** The release `current` named. */
  version: string | null;
  tries?: number;
  /** The checkpoint it took for the transaction in flight (its id). */
  snapshot?: string;
  /** The checkpoint it put back. */
  restored?: string;
  /** Why the state could not be checkpointed or put back (the start went on). */
  stateError?: string;
  detail?: string;
  /** Its own failure, when `action` is `error`. */
  error?: { code?: string; message: string };
}

export interface BootCheckRecord {
  /** The last run, whatever the moment. */
  last: BootCheckRun;
  /** The last run at a start of the unit (not `live`: by hand while the service ran), or null. */
  start: BootCheckRun | null;
}

/** The record, undefined when there is none; an unreadable one is reported as such, never taken for none. */
export async function readBootCheckRecord(layout: Layout): Promise<BootCheckRecord | undefined> {
  const raw = (await readJsonIfExists(layout.bootCheckRecord)) as Partial<BootCheckRecord> | undefined;
  if (raw === undefined) return undefined;
  if (!raw || typeof raw !== 'object' || !raw.last || typeof raw.last.at !== 'string')
    throw new Error(`${layout.bootCheckRecord} is not a boot-check record`);
  return { last: raw.last, start: raw.start ?? null };
}

/** Record a run: the last one, and the last at a start unless it was by hand while the service ran. */
export async function recordBootCheckRun(layout: Layout, run: BootCheckRun): Promise<void> {
  const before = await readBootCheckRecord(layout).catch(() => undefined);
  const record: BootCheckRecord = { last: run, start: run.action === 'live' ? (before?.start ?? null) : run };
  await writeFileAtomic(layout.bootCheckRecord, `${JSON.stringify(record, null, 2)}\n`);
}

/** The unit's present start, as systemd reports it. */
export interface UnitStart {
  /** InvocationID: new at every start of the unit (empty while it never started). */
  invocation: string | null;
  /** ExecMainStartTimestamp as systemd prints it, for people. */
  startedAt: string | null;
  /** ActiveState/SubState. */
  state: string;
}

export type BootCheckVerdict =
  /** A record of the unit's present start. */
  | { at: 'ran'; run: BootCheckRun; detail: string }
  /** The unit started and no boot-check recorded that start. */
  | { at: 'did-not-run'; run: BootCheckRun | null; detail: string }
  /** Nothing to judge: no systemd unit to ask, or it never started. */
  | { at: 'unknown'; run: BootCheckRun | null; detail: string };

/** Words for one run: when, which tool, what it did. */
export function describeRun(run: BootCheckRun): string {
  const what = run.error
    ? `failed in its own code (${run.error.code ? `${run.error.code}: ` : ''}${run.error.message})`
    : `${run.action}${run.snapshot ? `, checkpoint ${run.snapshot} taken` : ''}${run.restored ? `, checkpoint ${run.restored} put back` : ''}${run.stateError ? `, state not checkpointed: ${run.stateError}` : ''}`;
  return `${run.at} (release-switcher ${run.tool ?? 'of unknown version'}, ${run.version ?? 'nothing current'}): ${what}`;
}

/**
 * Whether the boot-check ran at the unit's present start: a record made in that start (the same InvocationID). Pure:
 * the unit's start and the record are read by the caller.
 */
export function judgeBootCheck(record: BootCheckRecord | undefined, unit: UnitStart | null): BootCheckVerdict {
  const run = record?.start ?? null;
  const last = run
    ? `its last run at a start: ${describeRun(run)}`
    : 'it has recorded no run at a start (a release-switcher older than this record writes none: after an upgrade of the tool, a restart of the service tells)';
  if (!unit?.invocation) return { at: 'unknown', run, detail: `no start of the unit to compare with; ${last}` };
  const started = `the unit's start${unit.startedAt ? ` (main process started ${unit.startedAt})` : ''}`;
  if (run?.invocation === unit.invocation) {
    return run.error
      ? { at: 'did-not-run', run, detail: `the boot-check failed at ${started}: ${describeRun(run)}` }
      : { at: 'ran', run, detail: `the boot-check ran at ${started}: ${describeRun(run)}` };
  }
  return {
    at: 'did-not-run',
    run,
    detail: `the boot-check did not run at ${started}, or failed before it could record it (a moved installation: Cannot find module); ${last}`,
  };
}

/** What to do about a boot-check that did not run; naming the unit's log when the unit is known. */
export function bootCheckHint(config?: { supervisor: string; unit: string | null }): string {
  const log = config?.unit
    ? `journalctl ${config.supervisor === 'systemd' ? '--user ' : ''}-u ${config.unit}`
    : 'journalctl [--user] -u UNIT';
  return `See why in the unit's log (${log}); release-switcher doctor checks the unit's commands, and release-switcher unit --install writes them again for this installation.`;
}

export const BOOT_CHECK_HINT = bootCheckHint();
