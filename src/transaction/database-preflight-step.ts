/**
 * The `database-preflight` step (a preset with a `databasePreflight`, openclaw's): before any flip (update, switch, rollback), the target release's own
 * schema check of a consolidated copy of each state database, shared and per agent (rehearsal/database-preflight.ts).
 * `incompatible` and `indeterminate` refuse with DATABASE_INCOMPATIBLE before anything changes; the other verdicts are
 * recorded. A transaction that puts a checkpoint back (check-state's `restore`) starts the target on that checkpoint,
 * so its copies are what is judged: numeric schema versions alone do not prove a shape the target can read. The
 * automatic way back judges the same before it flips (way-back.ts, step `database-preflight-previous`).
 */
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { Transaction } from '../model/state.js';
import {
  type DatabaseCheck,
  type DatabaseVerdict,
  databasePreflight,
  refuses,
} from '../rehearsal/database-preflight.js';
import type { RunAs } from '../platform/run-as.js';
import { type Place, filesUnder } from '../snapshot/state-files.js';
import { resolveStatePaths } from '../snapshot/state-paths.js';
import { onStateSide, resolveStateAs } from '../snapshot/state-side.js';
import { runStep } from './record.js';
import { candidateEnvOf } from './candidate-env.js';
import { serviceIdentity } from './service-identity.js';
import type { Config } from '../store/config.js';
import { servicePreset, type Preset } from '../presets/index.js';
import type { JournalSession } from '../store/session.js';
import type { Layout } from '../store/layout.js';

const NAME = 'database-preflight';

/**
 * The verdicts of the check the root's preset publishes, none when it publishes none; for --dry-run too. With
 * `checkpoint`, the state judged is the one the target will start with: that checkpoint's copies (what it holds of the
 * state paths), the live files only where it holds none (independent paths, left alone by a restore).
 */
export async function judgeDatabases(
  session: Pick<JournalSession, 'config' | 'layout' | 'runtime'>,
  target: string,
  options: { checkpoint?: string } = {},
): Promise<DatabaseVerdict[] | undefined> {
  const { config, layout, runtime } = session;
  const check = databaseCheckOf(config);
  if (!check) return undefined;
  const service = await serviceIdentity(session);
  // The live state is resolved and listed with the service account's rights (a worker, when root acts for it):
  // a link it planted never makes root list a folder of its own.
  const live = await liveStatePaths(config.statePaths, service);
  const { held, uncovered } = options.checkpoint
    ? await checkpointPlaces(layout, options.checkpoint, live)
    : { held: [], uncovered: live };
  const files = [
    ...(await filesUnder(held)), // the checkpoint's copy: root's own, under the root-only snapshots/
    ...(await onStateSide(service.runAs, 'files', [], { paths: uncovered })),
  ];
  const found = files.flatMap((place) => {
    const how = checkFor(check, place.live);
    return how ? [{ place, how }] : [];
  });
  const within = options.checkpoint && path.join(layout.snapshot(options.checkpoint), 'data');
  return databasePreflight({
    node: config.node!,
    releaseDir: layout.release(target),
    databases: found.map(({ place, how }) => ({
      database: place.live,
      ...how,
      ...(place.at !== place.live && {
        readFrom: { file: place.at, checkpoint: options.checkpoint!, within: within! },
      }),
    })),
    workDir: path.join(layout.preflight, `database-${process.pid}`),
    answer: check.answer,
    // The target's own code, not yet trusted: the service's environment, not the caller's (candidate-env.ts).
    env: (await candidateEnvOf(session)).env,
    signal: runtime.signal,
    as: service.runAs,
  });
}

type Check = NonNullable<Preset['databasePreflight']>;

/** How a live path is judged: the shared check, an agent's (its id from the path), or not at all. */
function checkFor(check: Check, live: string): Pick<DatabaseCheck, 'args' | 'agentId'> | undefined {
  if (new RegExp(check.databases).test(live)) return { args: check.args };
  const agent = check.agents && new RegExp(check.agents.databases).exec(live)?.[1];
  return agent ? { args: check.agents!.args, agentId: agent } : undefined;
}

/** The state paths as the service resolves them, by the service's account (its wildcards listed with its rights). */
async function liveStatePaths(
  statePaths: readonly string[],
  service: { runAs: RunAs | undefined; env: NodeJS.ProcessEnv },
): Promise<string[]> {
  return (await resolveStateAs(service.runAs, { statePaths, independentPaths: [], env: service.env })).paths;
}

/**
 * Where the state the target starts with is read once `id` is put back: each path the checkpoint holds, from its copy
 * there (a path it recorded as absent is deleted by the restore: nothing to judge), and the live state paths it does
 * not cover. Folders are then walked a few levels deep, never through a link (state-files.ts): the preset's default
 * state path is the whole state dir, where `state/openclaw.sqlite` and `agents/<id>/agent/openclaw-agent.sqlite` live;
 * a path matches by its live name wherever it is read from.
 */
async function checkpointPlaces(
  layout: Layout,
  id: string,
  live: readonly string[],
): Promise<{ held: Place[]; uncovered: string[] }> {
  // lazy: the snapshot store only when a checkpoint is put back
  const { readSnapshot } = await import('../snapshot/snapshot.js');
  const manifest = await readSnapshot(layout, id);
  if (!manifest) return { held: [], uncovered: [...live] };
  const within = (p: string, entry: string) => p === entry || p.startsWith(`${entry}/`);
  const held = manifest.entries.flatMap((e) =>
    e.stored && e.type !== 'absent' ? [{ live: e.path, at: path.join(layout.snapshot(id), e.stored) }] : [],
  );
  const uncovered = live.filter((p) => !manifest.entries.some((e) => within(p, e.path)));
  return { held, uncovered };
}

/** The preset's published check, when the root runs a preset that has one on a configured Node. */
function databaseCheckOf(config: Config): Preset['databasePreflight'] {
  const check = servicePreset(config)?.databasePreflight;
  return config.node ? check : undefined;
}

export function describeVerdicts(verdicts: readonly DatabaseVerdict[]): string {
  if (verdicts.length === 0) return 'no state database yet';
  return verdicts
    .map(
      (v) => `${v.database}${v.agentId ? ` (agent ${v.agentId})` : ''}: ${v.status}${v.detail ? ` (${v.detail})` : ''}`,
    )
    .join('; ');
}

export async function databasePreflightStep(session: JournalSession, tx: Transaction, target: string): Promise<void> {
  const refused = await judgeStep(session, tx, { name: NAME, target, checkpoint: restoredFor(tx, target) });
  if (!refused) return;
  throw new ReleaseSwitcherError('DATABASE_INCOMPATIBLE', `Not switching to ${target}: ${refused.message}.`, {
    hint: `Nothing was flipped or restarted. ${refused.hint}`,
  });
}

/** The checkpoint a transaction puts back before `target` starts, if it does. */
const restoredFor = (tx: Transaction, target: string) =>
  tx.restore?.version === target ? tx.restore.snapshot : undefined;

/**
 * The step (`name`): the target's verdicts on the state it will start with (`checkpoint`'s when one is put back),
 * recorded as its evidence. Returns why it refuses (the step failed), or undefined: the activation goes on.
 */
export async function judgeStep(
  session: JournalSession,
  tx: Transaction,
  options: {
    name: 'database-preflight' | 'database-preflight-previous';
    target: string;
    checkpoint: string | undefined;
    wayBack?: boolean;
  },
): Promise<{ message: string; hint: string } | undefined> {
  const { journal } = session;
  const { name, target, checkpoint } = options;
  if (!databaseCheckOf(session.config)) return undefined;
  const verdicts = await runStep({ journal, tx }, name, async (step) => {
    const found = (await judgeDatabases(session, target, { checkpoint })) ?? [];
    const on = checkpoint ? ` (the checkpoint ${checkpoint}, put back before it starts)` : '';
    step.note({ evidence: { verdicts: found }, detail: `${target}${on}: ${describeVerdicts(found)}` });
    // Only for a supervised service going forward: its state is where it runs, and a checkpoint is taken of it.
    const supervised = session.config.supervisor !== 'none';
    if (
      supervised &&
      !checkpoint &&
      !options.wayBack &&
      found.length === 0 &&
      tx.from !== null &&
      session.journal.state.releases[tx.from]?.state === 'good'
    )
      throw await noStateFound(session, tx.from); // the step fails with it
    if (found.some(refuses)) step.fail();
    return found;
  });
  const refused = verdicts.filter(refuses);
  if (refused.length === 0) return undefined;
  return {
    message: `its database preflight says ${describeVerdicts(refused)}`,
    hint: checkpoint
      ? `${target} cannot run on the state the checkpoint ${checkpoint} holds; release-switcher list shows the releases and their checkpoints.`
      : `${target} cannot run on this state; a rollback needs a snapshot taken while ${target} ran (release-switcher list shows them).`,
  };
}

/**
 * For --dry-run: the step, and the verdicts the target gives the state it would start with now (the checkpoint's when
 * one is put back; none for a target not installed).
 */
export async function planDatabase(
  session: Pick<JournalSession, 'config' | 'layout' | 'runtime'>,
  options: { target: string; installed: boolean; checkpoint: string | undefined },
): Promise<{ steps: string[]; database?: { verdicts?: DatabaseVerdict[]; note?: string } }> {
  if (!databaseCheckOf(session.config)) return { steps: [] };
  const steps = [NAME];
  if (!options.installed) return { steps, database: { note: 'judged once the release is installed' } };
  const verdicts = (await judgeDatabases(session, options.target, { checkpoint: options.checkpoint })) ?? [];
  return { steps, database: { verdicts } };
}

/**
 * A release that ran and was verified has made its state database: finding none means the state paths were resolved
 * somewhere the service does not keep its state (another HOME, another OPENCLAW_STATE_DIR), and a checkpoint there
 * would cover nothing. Refused before anything stops, naming where we looked and where we would have looked.
 */
async function noStateFound(session: JournalSession, running: string): Promise<ReleaseSwitcherError> {
  const { config, runtime } = session;
  const service = await serviceIdentity(session);
  const theirs = await liveStatePaths(config.statePaths, service);
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
