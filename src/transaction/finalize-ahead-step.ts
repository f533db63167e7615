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
 *    Where the preset names one, the target's first start follows on the same copy (first-start-ahead.ts): what a
 *    target does once at its first start on a state joins the write set; a start that fails leaves finalize to the window.
 * 3. Digested again: its write set is what it changed (entries whose content differs, folders it created whole,
 *    entries it removed), and each database's tables it changed. Kept in `<root>/preflight/ahead-<tx>.json`.
 * 4. In the window (after the stop and the checkpoint, finalize-step.ts → finalize-ahead-swap.ts), the live folder's
 *    metadata is taken again.
 *    An entry the live service changed since the copy that finalize wrote, or that the preset does not name as
 *    unaffected, sends finalize into the window (today's path), recorded with the paths that forced it. A database
 *    the service changed is compared by table: its tables copied over the finalized database where finalize left
 *    them alone, a table both changed merged row by row (across a migration that only added columns too), a row both
 *    changed a conflict. Otherwise the write set is put in place by rename (the live entries
 *    moved into `.release-switcher-aside-ahead-<tx>/`), and finalize does not run in the window.
 *
 * Crash-safe: the checkpoint is taken before any rename (the way back puts back the state the old release left,
 * exactly as when finalize ran in the window), a runner killed in the swap leaves the finalize step running, which
 * recovery treats as an interrupted finalize; the ready and aside folders are removed when the transaction ends
 * (discardAhead, from the driver and from recovery), and a copy's finalize process is ended by recovery by its marker.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { freeLoopbackPort } from '../rehearsal/rehearsal-port.js';
import { runCaptured, tail } from '../platform/subprocess.js';
import type { RunAs } from '../platform/run-as.js';
import { finalizeWarnings, startFinalize, type FinalizeVerdict, type OnCopy } from '../service/finalize.js';
import { namespaceFor } from '../service/namespace-probe.js';
import type { Entries } from '../snapshot/ahead-account.js';
import { type TableDigests, digestTables, keepDatabases } from '../snapshot/sqlite-tables.js';
import { resolveStateAs, onStateSide } from '../snapshot/state-side.js';
import { ASIDE_PREFIX, READY_PREFIX } from '../snapshot/swap-record.js';
import type { Preset } from '../presets/index.js';
import { liveConfigAs } from './finalize-choice.js';
import { finalizeArgs, finalizeOf, serviceNpmSetup } from './finalize-choice.js';
import { markBad, runStep, type StepHandle } from './record.js';
import { servingNode } from './runtime.js';
import { serviceIdentity } from './service-identity.js';
import type { Run } from './steps.js';
import { type AheadRecord, baseOf, discardAhead, writeRecord } from './finalize-ahead-record.js';
import { firstStartAhead } from './first-start-ahead.js';
import { firstStartRehearses } from './rehearsed-ahead.js';

const NAME = 'finalize-ahead' as const;
const STEP_TIMEOUT_MS = 120_000;

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
  const { paths, skip } = await resolveStateAs(as, { ...config, env });
  const [live] = paths.length === 1 ? await onStateSide(as, 'liveDirs', [], { paths }) : [null];
  if (!live) return void step.end('skipped', 'finalize runs in the window: the state is not one folder');
  // The install inside the state (install-cli.sh's Node and package in ~/.openclaw/tools, init's independent paths) is
  // not state: not copied (measured: 5.5 minutes for its 40,000 files at a load of 9), not compared (the flip rewrites
  // it, which would force finalize into the window), and seen by finalize and the rehearsal at its live place.
  const kept = keptInside(live, skip);
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
    kept,
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
    const taken = await onStateSide(as, 'aheadFingerprint', [], { dir: live, residue, kept });
    await onStateSide(as, 'aheadCopy', [], {
      ready: record.ready,
      base: baseOf(record),
      copy: { paths: [live], base: null, residue, sqliteNodes: [config.node, process.execPath], skip: [...skip] },
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
  const unchanged = await timed('digest', () =>
    onStateSide(as, 'aheadDigest', [], { dir: record.ready, residue, kept }),
  );
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
  // The target's first start on the finalized copy: what it does once on a state (OpenClaw: its startup migrations)
  // joins the write set, and its real first start in the window is a restart's (first-start-ahead.ts). Held as long
  // as the rehearsal holds when it stands for it (rehearsed-ahead.ts).
  const start = ahead.firstStart;
  const logFile = path.join(layout.finalize, `${tx.id}.ahead-start.log`);
  const holdMs = firstStartRehearses(config, tx) ? config.preflightFor * 1000 : 0;
  const first = start
    ? await timed('first-start', () =>
        firstStartAhead(run, { start, env, aheadEnv: ahead.env ?? {}, onCopy: onCopyOf(record), logFile, as, holdMs }),
      )
    : undefined;
  if (first && !first.ok) {
    // Kept: where it stands for the rehearsal, its verdict is the rehearsal's (preflight-step.ts, rehearsed-ahead.ts).
    step.note({ evidence: { ready: record.ready, verdict: brief(verdict), firstStart: first, phases } });
    throw new Error(`${tx.to}'s first start ahead on the copy failed (${first.detail}; its output is in ${logFile})`);
  }
  const after = await timed('digest', () => onStateSide(as, 'aheadDigest', [], { dir: record.ready, residue, kept }));
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
    liveTables: [...(ahead.liveTables ?? [])],
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
      ...(first && { firstStart: first }),
      phases,
    },
    detail: `${tx.to}'s ${finalize.name ?? 'finalize'} ran ahead on a copy of ${live} (${verdict.status}, ${verdict.ms} ms${first ? `; its first start there: healthy after ${first.healthyAfterMs} ms${first.heldMs > 0 ? `, held ${first.heldMs / 1000} s: the rehearsal` : ''}` : ''}): ${writes.length} entr${writes.length === 1 ? 'y' : 'ies'} to put in place by rename in the window (${Math.round(performance.now() - started)} ms in all)`,
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
  const onCopy = onCopyOf(record);
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

/** The ready copy seen at the live folder's path, as finalize and the first start ahead see it. */
const onCopyOf = (record: AheadRecord): OnCopy => ({
  copy: record.ready,
  live: record.live,
  privateFolders: record.privateFolders ?? [],
  kept: record.kept ?? [],
});

/** Those of the independent paths (absolute) that lie inside the live folder, relative to it (AheadRecord.kept). */
export function keptInside(live: string, independent: Iterable<string>): string[] {
  const out: string[] = [];
  for (const p of independent) {
    const rel = path.relative(live, p);
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) out.push(rel.split(path.sep).join('/'));
  }
  return out.sort();
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
