/**
 * The `database-preflight` step (openclaw preset): before any flip (update, switch, rollback), the target release's own
 * schema check of a consolidated copy of the state database (rehearsal/database-preflight.ts). `incompatible` and
 * `indeterminate` refuse with DATABASE_INCOMPATIBLE before anything changes; the other verdicts are recorded. A
 * transaction that puts a snapshot back (check-state's `restore`) starts the target on that snapshot, which the target
 * itself wrote: nothing to judge then.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { Transaction } from '../model/state.js';
import { type DatabaseVerdict, databasePreflight, refuses } from '../rehearsal/database-preflight.js';
import { resolveStatePaths } from '../snapshot/state-paths.js';
import { noteStep, runStep } from './record.js';
import { candidateEnvOf } from './candidate-env.js';
import { serviceIdentity } from './service-identity.js';
import type { Config } from '../store/config.js';
import { servicePreset, type Preset } from '../store/presets.js';
import type { JournalSession } from '../store/session.js';

const NAME = 'database-preflight';

/** The verdicts of the check the root's preset publishes, none when it publishes none; for --dry-run too. */
export async function judgeDatabases(
  session: Pick<JournalSession, 'config' | 'layout' | 'runtime'>,
  target: string,
): Promise<DatabaseVerdict[] | undefined> {
  const { config, layout, runtime } = session;
  const check = databaseCheckOf(config);
  if (!check) return undefined;
  const match = new RegExp(check.databases);
  const service = await serviceIdentity(session);
  const databases = await databasesIn(await resolveStatePaths(config.statePaths, service.env), match);
  return databasePreflight({
    node: config.node!,
    releaseDir: layout.release(target),
    args: check.args,
    databases,
    workDir: path.join(layout.root, 'preflight', `database-${process.pid}`),
    // The target's own code, not yet trusted: the service's environment, not the caller's (candidate-env.ts).
    env: (await candidateEnvOf(session)).env,
    signal: runtime.signal,
    as: service.runAs,
  });
}

/**
 * The databases the check applies to among the state paths: a path that matches, or a file matching under a folder
 * (the preset's default state path is the whole state dir, where `state/openclaw.sqlite` lives). Folders are walked a
 * few levels deep, never through a symlink.
 */
async function databasesIn(paths: readonly string[], match: RegExp, depth = 3): Promise<string[]> {
  const found: string[] = [];
  for (const at of paths) {
    const stat = await fs.lstat(at).catch(() => undefined);
    if (stat?.isFile() && match.test(at)) found.push(at);
    if (!stat?.isDirectory() || depth === 0) continue;
    const entries = await fs.readdir(at).catch(() => [] as string[]);
    found.push(
      ...(await databasesIn(
        entries.sort().map((name) => path.join(at, name)),
        match,
        depth - 1,
      )),
    );
  }
  return found;
}

/** The preset's published check, when the root runs a preset that has one on a configured Node. */
function databaseCheckOf(config: Config): Preset['databasePreflight'] {
  const check = servicePreset(config)?.databasePreflight;
  return config.node ? check : undefined;
}

export function describeVerdicts(verdicts: readonly DatabaseVerdict[]): string {
  if (verdicts.length === 0) return 'no state database yet';
  return verdicts.map((v) => `${v.database}: ${v.status}${v.detail ? ` (${v.detail})` : ''}`).join('; ');
}

export async function databasePreflightStep(session: JournalSession, tx: Transaction, target: string): Promise<void> {
  const { journal } = session;
  if (!databaseCheckOf(session.config)) return;
  if (tx.restore?.version === target) {
    noteStep(tx, NAME, 'skipped', `the snapshot ${tx.restore.snapshot} is put back`);
    return;
  }
  const verdicts = await runStep({ journal, tx }, NAME, async (step) => {
    const found = (await judgeDatabases(session, target)) ?? [];
    step.note({ evidence: { verdicts: found }, detail: `${target}: ${describeVerdicts(found)}` });
    // Only for a supervised service: its state is where it runs, and a checkpoint is taken of it.
    const supervised = session.config.supervisor !== 'none';
    if (
      supervised &&
      found.length === 0 &&
      tx.from !== null &&
      session.journal.state.releases[tx.from]?.state === 'good'
    )
      throw await noStateFound(session, tx.from); // the step fails with it
    if (found.some(refuses)) step.fail();
    return found;
  });
  const refused = verdicts.filter(refuses);
  if (refused.length === 0) return;
  throw new ReleaseSwitcherError(
    'DATABASE_INCOMPATIBLE',
    `Not switching to ${target}: its database preflight says ${describeVerdicts(refused)}.`,
    {
      hint: `Nothing was flipped or restarted. ${target} cannot run on this state; a rollback needs a snapshot taken while ${target} ran (release-switcher list shows them).`,
    },
  );
}

/** For --dry-run: the step, and the verdicts the target gives the live state now (none for a target not installed). */
export async function planDatabase(
  session: Pick<JournalSession, 'config' | 'layout' | 'runtime'>,
  options: { target: string; installed: boolean; restoring: boolean },
): Promise<{ steps: string[]; database?: { verdicts?: DatabaseVerdict[]; note?: string } }> {
  if (!databaseCheckOf(session.config)) return { steps: [] };
  const steps = [NAME];
  if (options.restoring) return { steps, database: { note: 'skipped: the snapshot is put back' } };
  if (!options.installed) return { steps, database: { note: 'judged once the release is installed' } };
  return { steps, database: { verdicts: (await judgeDatabases(session, options.target)) ?? [] } };
}

/**
 * A release that ran and was verified has made its state database: finding none means the state paths were resolved
 * somewhere the service does not keep its state (another HOME, another OPENCLAW_STATE_DIR), and a checkpoint there
 * would cover nothing. Refused before anything stops, naming where we looked and where we would have looked.
 */
async function noStateFound(session: JournalSession, running: string): Promise<ReleaseSwitcherError> {
  const { config, runtime } = session;
  const service = await serviceIdentity(session);
  const theirs = await resolveStatePaths(config.statePaths, service.env);
  const ours = await resolveStatePaths(config.statePaths, runtime.env).catch(() => [] as string[]);
  const differs = ours.join() !== theirs.join();
  return new ReleaseSwitcherError(
    'STATE_NOT_FOUND',
    `${running} ran and was verified, yet no state database is under ${theirs.join(', ') || '(no state path)'} (the service's state paths, read from ${service.from})${differs ? `; this account would have looked under ${ours.join(', ')}` : ''}. Nothing was changed.`,
    {
      hint: 'Point the state paths at where the service keeps its state (release-switcher init --state-path PATH), or run release-switcher as the account the service runs as.',
      details: { statePaths: theirs, callerStatePaths: ours, from: service.from },
    },
  );
}
