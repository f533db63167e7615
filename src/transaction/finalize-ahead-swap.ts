/**
 * Finalize done ahead, in the stop window (finalize-step.ts calls it after the stop and the checkpoint): the live
 * folder compared with the copy's moment, the service's database writes merged into the finalized copy, and the write
 * set put in place by rename, or the paths that send finalize into the window (finalize-ahead-step.ts, the module's
 * comment, item 4).
 */
import path from 'node:path';
import ignore from 'ignore';
import type { RunAs } from '../platform/run-as.js';
import { digestTables, mergeTables, tableMerge } from '../snapshot/sqlite-tables.js';
import { onStateSide } from '../snapshot/state-side.js';
import { type AheadRecord, baseOf, readAheadRecord } from './finalize-ahead-record.js';
import type { StepHandle } from './record.js';
import { servingNode } from './runtime.js';
import { serviceIdentity } from './service-identity.js';
import type { Run } from './steps.js';

/** The window's verdict on a finalize done ahead: put in place, or the paths that send finalize into the window. */
export interface AheadSwap {
  swapped: boolean;
  /** Entries put in place by rename. */
  entries?: string[];
  /** The service's writes carried into the finalized databases, and what finalize's superseded. */
  merged?: Merged;
  /** What the live service changed since the copy. */
  changed?: string[];
  /** What of it sends finalize into the window (a path, or `database#table`), with why. */
  forcedBy?: string[];
  ms: number;
}

/**
 * In the window, the service stopped and the checkpoint taken: the write set put in place when the live state did not
 * change what finalize read or wrote, else undefined-free verdict `swapped: false` with what forced finalize in.
 */
export async function swapAhead(run: Run, step: StepHandle): Promise<AheadSwap | undefined> {
  const { session, tx } = run;
  const record = await readAheadRecord(session.layout, tx.id);
  if (!record?.complete || !record.before || !record.writes) return undefined;
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const { runAs: as } = await serviceIdentity(session);
  let verdict: Omit<AheadSwap, 'ms' | 'swapped'> & { entries: string[] };
  try {
    const found = await compareLive(session, record, as);
    if (found.forcedBy.length > 0)
      return { swapped: false, changed: found.changed, forcedBy: found.forcedBy, ms: ms() };
    verdict = found;
  } catch (error) {
    // Nothing is moved yet: finalize runs in the window on the live state, as it would have without the copy.
    return { swapped: false, forcedBy: [`(the comparison failed: ${(error as Error).message})`], ms: ms() };
  }
  step.note({ evidence: { ahead: { swapping: verdict.entries.length } } });
  await session.journal.commit(); // the swap begins: a kill from here is an interrupted finalize (recovery)
  const swap = await onStateSide(as, 'aheadSwap', [], {
    live: record.live,
    ready: record.ready,
    aside: record.aside,
    entries: verdict.entries,
  });
  // Refused before anything moved (a link where our folders or an entry's are): finalize runs on the live state.
  if (swap.refused)
    return {
      swapped: false,
      changed: verdict.changed,
      forcedBy: [`(the swap was refused, nothing moved: ${swap.refused.code}: ${swap.refused.message})`],
      ms: ms(),
    };
  return { swapped: true, entries: swap.moved, merged: verdict.merged, changed: verdict.changed, ms: ms() };
}

/**
 * The live folder now against the copy's moment: what the service changed, what of it forces finalize into the window
 * (`forcedBy`), the tables carried into the finalized databases (merged into the copy: nothing live is touched), and
 * the entries to rename.
 */
async function compareLive(
  session: Run['session'],
  record: AheadRecord,
  as: RunAs | undefined,
): Promise<{ changed: string[]; forcedBy: string[]; merged: Merged; entries: string[] }> {
  const residue = [...session.config.residue];
  const before = record.before!;
  const writes = record.writes!;
  const now = await onStateSide(as, 'aheadFingerprint', [], { dir: record.live, residue, kept: record.kept ?? [] });
  const changedLive = [...new Set([...Object.keys(before), ...Object.keys(now)])]
    .filter((rel) => before[rel] !== now[rel])
    .sort();
  const databases = Object.keys(record.tables ?? {});
  const dbOf = (rel: string) =>
    databases.find((db) => rel === db || (rel.startsWith(db) && /^-(wal|shm|journal)$/.test(rel.slice(db.length))));
  const unaffected = ignore().add(record.unaffected ?? []);
  const written = new Set(writes);
  const inside = (rel: string, w: string) =>
    (w.endsWith('/') && rel.startsWith(w)) || (rel.endsWith('/') && w.startsWith(rel));
  const forcedBy: string[] = [];
  /** Entries finalize wrote that the service wrote too where it may: the service's version stays. */
  const keepLive = new Set<string>();
  const changedDbs = new Set<string>();
  for (const rel of changedLive) {
    const db = dbOf(rel);
    if (db) changedDbs.add(db);
    else if (unaffected.ignores(rel)) {
      if (written.has(rel)) keepLive.add(rel);
      else if (writes.some((w) => inside(rel, w))) forcedBy.push(`${rel} (finalize wrote the folder around it)`);
    } else if (written.has(rel) || writes.some((w) => inside(rel, w))) forcedBy.push(`${rel} (finalize wrote it too)`);
    else forcedBy.push(`${rel} (finalize may read it)`);
  }
  const plans: Array<{ db: string; plan: ReturnType<typeof tableMerge> }> = [];
  const node = servingNode(session);
  for (const db of changedDbs) {
    if (!written.has(db)) continue; // finalize left it alone: the live one stays
    const file = path.join(record.live, db);
    const live = (await digestTables(node, [file], as))[file] ?? {};
    const plan = tableMerge({ ...record.tables![db]!, live }, record.ownedTables ?? []);
    for (const table of plan.conflicts) forcedBy.push(`${db}#${table} (changed by both)`);
    plans.push({ db, plan });
  }
  if (forcedBy.length > 0) return { changed: changedLive, forcedBy, merged: {}, entries: [] };
  const merged: Merged = {};
  for (const { db, plan } of plans) {
    // Into the copy only: what fails or conflicts here leaves the live state as it was.
    const done = await mergeTables(
      node,
      {
        into: path.join(record.ready, db),
        from: path.join(record.live, db),
        base: path.join(baseOf(record), db),
        whole: plan.merge,
        rows: plan.rows,
        migrated: plan.migrated,
        owned: record.ownedTables ?? [],
        liveOwned: record.liveTables ?? [],
      },
      as,
    );
    for (const row of done.conflicts) forcedBy.push(`${db}#${row} (changed by both)`);
    merged[db] = {
      carried: done.carried,
      superseded: plan.superseded,
      ...(plan.migrated.length > 0 && { migrated: plan.migrated }),
      ...(done.kept.length > 0 && { kept: done.kept }),
    };
  }
  if (forcedBy.length > 0) return { changed: changedLive, forcedBy, merged: {}, entries: [] };
  // A database put in place goes with its companions: the live ones are its old self's.
  const companions = databases
    .filter((db) => written.has(db))
    .flatMap((db) => ['-wal', '-shm', '-journal'].map((suffix) => db + suffix));
  return {
    changed: changedLive,
    forcedBy,
    merged,
    entries: [...writes.filter((w) => !keepLive.has(w)), ...companions],
  };
}

/** Per database: what of the service's writes was carried over (whole tables, or rows), and what finalize's superseded. */
export type Merged = Record<
  string,
  {
    carried: Record<string, 'whole' | number>;
    superseded: string[];
    /** Tables the target's migration added columns to, whose service rows were taken across (their counts in `carried`). */
    migrated?: string[];
    /** Rows both changed in a table finalize owns: finalize's version kept (`table["key"]`). */
    kept?: string[];
  }
>;
