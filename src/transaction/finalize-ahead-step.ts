/**
 * Finalize done ahead: the `finalize-ahead` step (before the flip, while the old release serves) and its swap in the
 * stop window (finalize-step.ts). The stop window of an update held the target's whole finalize (OpenClaw's `update
 * finalize`: Doctor, plugin convergence, config convergence: 25–160 s) though nothing in it needs the service stopped
 * but the state it writes. So:
 *
 * 1. Before the flip, the state folder is copied, as the account, into `.release-switcher-ready-ahead-<tx>/` inside it
 *    (the same file system, so the window's moves are renames; residue and ours left out), and its metadata taken
 *    (`fingerprint`). The copy's databases are digested by table, the preset's prepare step runs on it (OpenClaw:
 *    the live owner's leases cleared), and it is digested by content.
 * 2. The target's finalize runs on the copy, which it sees at the live folder's own path: a mount namespace of its
 *    own (service/finalize.ts `onCopy`). What it writes names the live paths (OpenClaw keeps the state's absolute
 *    path in its database rows and plugin records), so the result is valid where it will be put. A finalize that
 *    fails here refuses the transaction before anything stops (FINALIZE_FAILED): 0 s down.
 * 3. Digested again: its write set is what it changed (entries whose content differs, folders it created whole,
 *    entries it removed), and each database's tables it changed. Kept in `<root>/preflight/ahead-<tx>.json`.
 * 4. In the window (after the stop and the checkpoint, finalize-step.ts), the live folder's metadata is taken again.
 *    An entry the live service changed since the copy that finalize wrote, or that the preset does not name as
 *    unaffected, sends finalize into the window (today's path), recorded with the paths that forced it. A database
 *    the service changed is compared by table: its tables copied over the finalized database where finalize left
 *    them alone, a table both changed a conflict. Otherwise the write set is put in place by rename (the live entries
 *    moved into `.release-switcher-aside-ahead-<tx>/`), and finalize does not run in the window.
 *
 * Crash-safe: the checkpoint is taken before any rename (the way back puts back the state the old release left,
 * exactly as when finalize ran in the window), a runner killed in the swap leaves the finalize step running, which
 * recovery treats as an interrupted finalize; the ready and aside folders are removed when the transaction ends
 * (discardAhead, from the driver and from recovery), and a copy's finalize process is ended by recovery by its marker.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import ignore from 'ignore';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { freeLoopbackPort } from '../rehearsal/rehearsal-port.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { runCaptured, tail } from '../platform/subprocess.js';
import type { RunAs } from '../platform/run-as.js';
import { finalizeWarnings, startFinalize, type FinalizeVerdict } from '../service/finalize.js';
import { namespaceFor } from '../service/namespace-probe.js';
import type { Entries } from '../snapshot/ahead-account.js';
import { type TableDigests, digestTables, keepDatabases, mergeTables, tableMerge } from '../snapshot/sqlite-tables.js';
import { resolveStateAs, onStateSide } from '../snapshot/state-side.js';
import { ASIDE_PREFIX, READY_PREFIX } from '../snapshot/swap-record.js';
import type { Layout } from '../store/layout.js';
import type { JournalSession } from '../store/session.js';
import type { Preset } from '../presets/index.js';
import { liveConfigAs } from './finalize-choice.js';
import { finalizeArgs, finalizeOf, serviceNpmSetup } from './finalize-choice.js';
import { markBad, runStep, type StepHandle } from './record.js';
import { servingNode } from './runtime.js';
import { serviceIdentity } from './service-identity.js';
import type { Run } from './steps.js';

const NAME = 'finalize-ahead' as const;
const STEP_TIMEOUT_MS = 120_000;

/** What the step leaves for the window: kept in `<root>/preflight/ahead-<tx>.json` (root's). */
export interface AheadRecord {
  tx: string;
  /** The live state folder (its real path), the ready copy and the aside folder inside it. */
  live: string;
  ready: string;
  aside: string;
  /** Set once finalize succeeded on the copy and its write set is known: the window may swap. */
  complete: boolean;
  /** The live folder's entries by metadata when the copy was made. */
  before?: Entries;
  /** What finalize changed: entries (a folder's ends in `/`), in the order they are put in place. */
  writes?: string[];
  /** Each database of the copy (relative path) by table: as copied, as finalize met it, as finalize left it. */
  tables?: Record<string, { base: TableDigests; prepared: TableDigests; finalized: TableDigests }>;
  /** The preset's private folders (service/finalize.ts OnCopy), for the account: what finalize had, the rehearsal has. */
  privateFolders?: string[];
  /** The preset's unaffected paths, and the tables where a row both changed keeps finalize's version. */
  unaffected?: string[];
  ownedTables?: string[];
  /** Finalize's verdict on the copy (its warnings are the transaction's once the result is put in place). */
  verdict?: FinalizeVerdict;
}

const recordFile = (layout: Layout, tx: string) => path.join(layout.preflight, `ahead-${tx}.json`);

export async function readAheadRecord(layout: Layout, tx: string): Promise<AheadRecord | undefined> {
  const record = (await readJsonIfExists(recordFile(layout, tx)).catch(() => undefined)) as AheadRecord | undefined;
  return record?.tx === tx ? record : undefined;
}

/**
 * The finalized copy the rehearsal starts the candidate on, when finalize ran ahead for this transaction: seen at the
 * live folder's path in a namespace of its own, as finalize saw it (the paths the state's rows and records name are the
 * live ones), with the preset's private folders. The rehearsal copies it first: the ready copy itself is what the window
 * puts in place, and a candidate's start writes.
 */
export async function finalizedCopy(
  session: Pick<JournalSession, 'layout'>,
  tx: Pick<Run['tx'], 'id'>,
): Promise<{ ready: string; live: string; privateFolders: string[] } | undefined> {
  const record = await readAheadRecord(session.layout, tx.id);
  if (!record?.complete) return undefined;
  return { ready: record.ready, live: record.live, privateFolders: record.privateFolders ?? [] };
}

/** Why finalize does not run ahead for this transaction (recorded), or undefined when it does. */
function notAhead(run: Run): string | undefined {
  const { tx } = run;
  if (tx.from === null) return 'finalize runs in the window: no release serves yet';
  if (tx.from === tx.to) return 'finalize runs in the window: a move of the service alone';
  return undefined;
}

export async function finalizeAheadStep(run: Run): Promise<void> {
  const { session, tx } = run;
  const { config, journal, runtime } = session;
  const finalize = finalizeOf(config, run.supervisor);
  // What the plan knows ahead (finalize-choice.ts finalizeSteps) leaves the step out, unrecorded: no finalize that
  // can run ahead, the operator's `finalizeAhead: false`, a snapshot put back (it brings the state the target left).
  if (!finalize?.ahead || config.finalizeAhead === false || tx.to === null || tx.restore) return;
  const why = notAhead(run);
  if (why) return void (await runStep({ journal, tx }, NAME, async (step) => step.end('skipped', why)));
  await runStep({ journal, tx }, NAME, async (step) => {
    try {
      await ahead_(run, step, finalize);
    } catch (error) {
      // Refused (its finalize failed) or cancelled: thrown. It could not run: finalize runs in the window, as before.
      await discardAhead(session, tx.id);
      if (runtime.signal?.aborted || (isReleaseSwitcherError(error) && error.code === 'FINALIZE_FAILED')) throw error;
      step.end('skipped', `finalize runs in the window: it could not run ahead (${(error as Error).message})`);
    }
  });
}

/** The copy made, finalize run on it, its write set kept for the window (the step's work; the module's comment, 1–3). */
async function ahead_(run: Run, step: StepHandle, finalize: NonNullable<Preset['finalize']>): Promise<void> {
  const { session, tx } = run;
  const { config, journal, layout, runtime } = session;
  const ahead = finalize.ahead!;
  const started = performance.now();
  const service = await serviceIdentity(session);
  const as = service.runAs;
  const env = service.env;
  const { paths } = await resolveStateAs(as, { ...config, env });
  const [live] = paths.length === 1 ? await onStateSide(as, 'liveDirs', [], { paths }) : [null];
  if (!live) return void step.end('skipped', 'finalize runs in the window: the state is not one folder');
  const configFile = ahead.config ? await liveConfigAs(ahead.config, env, as) : null;
  if (configFile && !configFile.startsWith(live + path.sep))
    return void step.end('skipped', `finalize runs in the window: its config ${configFile} lies outside ${live}`);
  // The namespace first, before any copy: where the account may not make one (user namespaces off, their limit spent,
  // a sandbox that restricts them), finalize runs in the window as before, the kernel's answer kept in the evidence;
  // only the target's own failure refuses the update.
  const namespace = await namespaceFor(
    { copy: live, live, privateFolders: privateFoldersOf(finalize, as) },
    { as, signal: runtime.signal },
  );
  if (!namespace.available) {
    step.note({ evidence: { namespace } });
    return void step.end('skipped', `finalize runs in the window: ${namespace.reason}`);
  }
  const record: AheadRecord = {
    tx: tx.id,
    live,
    ready: path.join(live, `${READY_PREFIX}ahead-${tx.id}`),
    aside: path.join(live, `${ASIDE_PREFIX}ahead-${tx.id}`),
    complete: false,
    privateFolders: privateFoldersOf(finalize, as),
  };
  // Named before anything is made: a runner killed from here on leaves what recovery removes (discardAhead).
  await fs.mkdir(layout.preflight, { recursive: true, mode: 0o700 });
  await writeRecord(layout, record);
  step.note({ evidence: { ready: record.ready } });
  await journal.commit();
  const phases: Record<string, number> = {};
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const at = performance.now();
    try {
      return await work();
    } finally {
      phases[phase] = Math.round(performance.now() - at);
    }
  };
  const residue = [...config.residue];
  const node = servingNode(session);
  runtime.onProgress({ phase: 'preflight', message: `copying the state to run ${tx.to}'s finalize ahead` });
  const before = await timed('copy', async () => {
    const taken = await onStateSide(as, 'aheadFingerprint', [], { dir: live, residue });
    await onStateSide(as, 'aheadCopy', [], {
      ready: record.ready,
      base: baseOf(record),
      copy: { paths: [live], base: null, residue, sqliteNodes: [config.node, process.execPath], skip: [] },
    });
    return taken;
  });
  const databases = Object.keys(before).filter((rel) => rel.endsWith('.sqlite'));
  const inCopy = (rel: string) => path.join(record.ready, rel);
  const base = await digestTables(node, databases.map(inCopy), as);
  // As copied, before the prepare step and finalize change them: the base of a row-by-row merge in the window.
  await keepDatabases(
    node,
    databases.map((rel) => [inCopy(rel), path.join(baseOf(record), rel)] as const),
    as,
  );
  if (ahead.prepare) {
    const prepared = await runCaptured(
      node,
      ahead.prepare.map((a) => a.replaceAll('{state}', record.ready)),
      {
        cwd: '/',
        env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
        timeoutMs: STEP_TIMEOUT_MS,
        signal: runtime.signal,
        as,
      },
    );
    if (prepared.failed) throw new Error(`the copy's prepare step failed: ${tail(prepared.output, 5)}`);
  }
  const prepared = await digestTables(node, databases.map(inCopy), as);
  const unchanged = await timed('digest', () => onStateSide(as, 'aheadDigest', [], { dir: record.ready, residue }));
  runtime.onProgress({ phase: 'preflight', message: `${tx.to}'s ${finalize.name ?? 'finalize'} on the copy, ahead` });
  const verdict = await timed('finalize', () => finalizeOnTheCopy(run, { finalize, record, env, as }));
  step.note({ evidence: { ready: record.ready, verdict: brief(verdict) } });
  if (!verdict.ok) {
    // The candidate's own failure, as a rehearsal's is (preflight-step.ts): bad, so the auto-updater does not take it
    // up again at every tick; an operator may still switch to it on purpose.
    markBad(journal, tx.to!, `finalize-ahead: ${verdict.status} (exit ${verdict.exitCode ?? 'signal'})`);
    step.fail(
      `${tx.to}'s ${finalize.name ?? 'finalize'} failed on a copy of the state, before the stop: ${verdict.status}`,
    );
    throw finalizeFailed(tx.to!, finalize, verdict);
  }
  const after = await timed('digest', () => onStateSide(as, 'aheadDigest', [], { dir: record.ready, residue }));
  const writes = writeSet(unchanged, after);
  const finalized = await digestTables(node, databases.map(inCopy), as);
  const tables = Object.fromEntries(
    databases.map((rel) => [
      rel,
      {
        base: base[inCopy(rel)] ?? {},
        prepared: prepared[inCopy(rel)] ?? {},
        finalized: finalized[inCopy(rel)] ?? {},
      },
    ]),
  );
  await writeRecord(layout, {
    ...record,
    complete: true,
    before,
    writes,
    tables,
    unaffected: [...(ahead.unaffected ?? [])],
    ownedTables: [...(ahead.ownedTables ?? [])],
    verdict,
  });
  const changedTables = Object.fromEntries(
    Object.entries(tables)
      .map(([rel, d]) => [rel, changed(d.prepared, d.finalized)] as const)
      .filter(([, t]) => t.length > 0),
  );
  step.note({
    evidence: {
      ready: record.ready,
      verdict: brief(verdict),
      writes: writes.slice(0, 100),
      writeCount: writes.length,
      tables: changedTables,
      phases,
    },
    detail: `${tx.to}'s ${finalize.name ?? 'finalize'} ran ahead on a copy of ${live} (${verdict.status}, ${verdict.ms} ms): ${writes.length} entr${writes.length === 1 ? 'y' : 'ies'} to put in place by rename in the window (${Math.round(performance.now() - started)} ms in all)`,
  });
}

/** The target's finalize on the ready copy, which it sees at the live folder's path. */
async function finalizeOnTheCopy(
  run: Run,
  at: { finalize: NonNullable<Preset['finalize']>; record: AheadRecord; env: NodeJS.ProcessEnv; as: RunAs | undefined },
): Promise<FinalizeVerdict> {
  const { session, tx } = run;
  const { layout, runtime } = session;
  const { finalize, record, env, as } = at;
  // The service's npm cache, made private to the account as the window's finalize has it.
  const npm = await serviceNpmSetup(env, as);
  const port = String(await freeLoopbackPort());
  const onCopy = { copy: record.ready, live: record.live, privateFolders: record.privateFolders ?? [] };
  const aheadEnv = Object.fromEntries(
    Object.entries(finalize.ahead?.env ?? {}).map(([key, value]) => [key, value.replaceAll('{port}', port)]),
  );
  const started = await startFinalize({
    node: servingNode(session),
    releaseDir: layout.release(tx.to!),
    args: finalizeArgs(finalize, tx),
    env: { ...env, ...finalize.env, ...aheadEnv, ...npm },
    // Kept for the operator beside the window's (`<tx>.json`), whatever the outcome.
    outputDir: layout.finalize,
    outputName: `${tx.id}.ahead`,
    tx: tx.id, // its marker: recovery ends it with the transaction's finalize processes
    timeoutMs: finalize.timeoutSeconds * 1000,
    phaseTimeoutFlag: finalize.phaseTimeoutFlag,
    verdict: finalize.verdict,
    signal: runtime.signal,
    as,
    onCopy,
  });
  return started.verdict;
}

/** The preset's private folders for the command (OnCopy.privateFolders), `{uid}` the account's. */
function privateFoldersOf(finalize: NonNullable<Preset['finalize']>, as: RunAs | undefined): string[] {
  const uid = String(as?.uid ?? process.getuid?.() ?? 0);
  return (finalize.ahead?.privateFolders ?? []).map((folder) => folder.replaceAll('{uid}', uid));
}

/**
 * What finalize changed between two digests of the copy, as the entries the window renames: a file or link whose
 * content changed, one added or removed, and a folder added or removed whole (not what is inside it).
 */
export function writeSet(before: Entries, after: Entries): string[] {
  const out: string[] = [];
  const covered = (rel: string, by: Entries, other: Entries) => {
    // Inside a folder that is new (or gone) on this side: the folder is the entry.
    const parts = rel.replace(/\/$/, '').split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = `${parts.slice(0, i).join('/')}/`;
      if (by[folder] !== undefined && other[folder] === undefined) return true;
    }
    return false;
  };
  for (const rel of Object.keys(after).sort()) {
    if (before[rel] === after[rel] || covered(rel, after, before)) continue;
    if (rel.endsWith('/') && before[rel] !== undefined) continue; // a folder's mode: its entries say what changed
    out.push(rel);
  }
  for (const rel of Object.keys(before).sort())
    if (after[rel] === undefined && !covered(rel, before, after)) out.push(rel);
  return out;
}

const changed = (a: TableDigests, b: TableDigests) =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((t) => a[t] !== b[t]).sort();

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
  const now = await onStateSide(as, 'aheadFingerprint', [], { dir: record.live, residue });
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

/** The databases as copied, kept beside the copy: the base of a row-by-row merge. */
const baseOf = (record: Pick<AheadRecord, 'ready'>) => `${record.ready}-base`;

/** The ready copy, the aside folder and the record removed (a transaction that ended, or recovery's). */
export async function discardAhead(
  session: Pick<JournalSession, 'layout' | 'config' | 'runtime'>,
  tx: string,
): Promise<void> {
  const record = await readAheadRecord(session.layout, tx);
  if (!record) return;
  const { runAs: as } = await serviceIdentity(session);
  const folders = [record.ready, record.aside, baseOf(record)];
  await onStateSide(as, 'aheadRemove', [], { live: record.live, folders }).catch(() => undefined);
  await fs.rm(recordFile(session.layout, tx), { force: true });
}

async function writeRecord(layout: Layout, record: AheadRecord): Promise<void> {
  await writeFileAtomic(recordFile(layout, record.tx), `${JSON.stringify(record)}\n`);
}

function brief(
  verdict: FinalizeVerdict,
): Pick<FinalizeVerdict, 'ok' | 'status' | 'exitCode' | 'ms' | 'phases' | 'error' | 'stderrTail'> {
  const { ok, status, exitCode, ms, phases, error, stderrTail } = verdict;
  return {
    ok,
    status,
    exitCode,
    ms,
    phases,
    ...(error !== undefined && { error }),
    ...(!ok && stderrTail && { stderrTail }),
  };
}

function finalizeFailed(
  target: string,
  finalize: NonNullable<Preset['finalize']>,
  verdict: FinalizeVerdict,
): ReleaseSwitcherError {
  const line = (verdict.stderrTail || verdict.outputTail)?.trim().split('\n').at(-1)?.trim();
  return new ReleaseSwitcherError(
    'FINALIZE_FAILED',
    `${target}'s ${finalize.name ?? 'finalize'} failed on a copy of the state (${verdict.status}, exit ${verdict.exitCode ?? 'signal'})${line ? `: ${line}` : ''}. Nothing was flipped or stopped.`,
    {
      hint: `Its output is in the root's finalize/ folder (<transaction>.ahead.json and .log); run ${target}'s ${finalize.name ?? 'finalize'} by hand on a copy of the state to see why, or set finalizeAhead false in config.json to run it in the stop window (a failure there rolls back).`,
      details: { verdict: brief(verdict), warnings: finalizeWarnings(verdict) },
    },
  );
}
