/**
 * `boot-check`, for ExecStartPre=: counts starts of a `pending` release and, once its tries are
 * spent without a verification, flips `current` back before the start goes on, so a crash-looping
 * release recovers even when no runner is left to notice. It never blocks the start: it exits 0,
 * skips when a live runner holds the lock (that runner decides), and never restarts anything (it
 * runs inside the very start job a restart would wait for). Being the one moment the service is
 * stopped, it is also where state snapshots are taken and put back (boot-state.ts).
 *
 * It acts only where it knows the service is stopped: the supervisor is asked first. A unit that runs
 * (a main process) means somebody ran it by hand: it does nothing at all (`live`). Snapshots are taken
 * and put back only when systemd reports the unit in its ExecStartPre (`activating/start-pre`, no main
 * process); anywhere else (another supervisor, systemctl unreachable) it may still count and flip back,
 * never touch the state. The release it would go back to is verified before anything changes.
 */
import { existsSync } from 'node:fs';
import { defaultEnv } from '../model/runtime.js';
import type { StateAtStart } from '../snapshot/boot-state.js';
import { type Config, readConfig } from '../store/config.js';
import { isReleaseSwitcherError } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import { readState } from '../store/journal.js';
import { layoutOf } from '../store/layout.js';
import { readLinkVersion } from '../store/links.js';
import { lookupAccount } from '../platform/accounts.js';
import { systemdSupervisor } from '../service/supervisors/systemd.js';
import type { CommandRunner } from '../service/supervisors/types.js';
import type { Moment } from '../transaction/crash-loop.js';
import { onSecurePath, privilegedEnvironment, untrustedByRoot } from '../platform/privileged-env.js';
import { runCaptured } from '../platform/subprocess.js';
import { ownVersion } from '../platform/self.js';
import { recordBootCheckRun } from '../store/boot-check-record.js';
import { unitStart } from '../service/unit-start.js';

/** A command as root: by its absolute path on the fixed PATH, never as the environment's PATH would find it. */
const bySecurePath: CommandRunner = (file, args, options) => runCaptured(onSecurePath(file) ?? file, args, options);

export interface BootCheckOptions {
  root: string;
  /** Starts a pending release gets before it is flipped back. @default 3 */
  maxTries?: number;
  /**
   * The service's environment: `~` and `${NAME}` in state paths mean what they mean to it. As root, only its locale is
   * kept (the rest may be the service account's choice); the state paths then read the unit's definition (systemctl
   * show: User='s home, Environment=). @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /** Stands in for systemctl (asking the unit's state) in tests. @default systemctl through the subprocess helper */
  runner?: CommandRunner;
}

export interface BootCheckResult extends StateAtStart {
  version: string | null;
  /**
   * `refused`: the tries are spent, but going back would start a release on state it cannot read and there
   * is no snapshot (or it could not be put back here), or the release to go back to fails its check. Also, as root,
   * a root another account may change (the root, config.json or state.json): nothing is read or done there.
   * `live`: the supervisor reports the service running, so this is not its start: nothing was done.
   */
  action: 'none' | 'counted' | 'flipped-back' | 'busy' | 'refused' | 'live';
  tries: number;
  /** The release `current` names now, when flipped back. */
  now?: string;
  /** Why it refused. */
  detail?: string;
}

export const DEFAULT_BOOT_TRIES = 3;

/**
 * The supervisor's `ExecStartPre=` hook: counts starts of a `pending` release, takes or restores its state
 * checkpoint before it first starts, and flips `current` back once its tries are spent. Never blocks the start.
 */
export async function bootCheck(options: BootCheckOptions): Promise<BootCheckResult> {
  const layout = layoutOf(options.root);
  const asRoot = process.getuid?.() === 0;
  // As root, a root another account may change is not acted on at all: what its config and journal say would decide
  // what root does (the unit's `+` line was written for a root of root's; it may have been handed to the account since).
  // Nothing is written there either, not even the record of this run.
  const untrusted = asRoot ? untrustedRoot(layout) : undefined;
  if (untrusted) return { version: null, action: 'refused', tries: 0, detail: `not acting as root: ${untrusted}` };
  // As root (the unit's `+` boot-check for its account, or a root service), commands are looked up on the fixed PATH only
  // and by absolute path, and nothing of the environment it was given reaches them (platform/privileged-env.ts).
  const given = options.env ?? defaultEnv();
  const env = asRoot ? privilegedEnvironment(given) : given;
  const runner = options.runner ?? (asRoot ? bySecurePath : undefined);
  // Every run leaves its record (boot-check-record.ts), its own failure included: status, doctor and the transaction
  // read it, so a boot-check that failed is not seen only in the unit's log.
  const seen: { config?: Config } = {};
  try {
    const result = await checkStart(layout, { ...options, env }, runner, seen);
    return await withRecord(layout, { config: seen.config, given, env, runner }, result);
  } catch (error) {
    await withRecord(layout, { config: seen.config, given, env, runner }, undefined, error).catch(() => undefined);
    throw error;
  }
}

async function checkStart(
  layout: ReturnType<typeof layoutOf>,
  options: BootCheckOptions & { env: NodeJS.ProcessEnv },
  runner: CommandRunner | undefined,
  seen: { config?: Config },
): Promise<BootCheckResult> {
  // A root that is not one is an error worth seeing in the unit's log; one that is not the caller's own is not touched.
  const config = await readConfig(layout.root, 'mutate');
  seen.config = config;
  const version = await readLinkVersion(layout, 'current');
  const state = await readState(layout.root);
  if (!version) return { version, action: 'none', tries: 0 };
  const env = options.env;
  const moment = await startMoment(config, env, runner);
  if (moment.at === 'live')
    return {
      version,
      action: 'live',
      tries: 0,
      detail: `${moment.detail}; boot-check acts only in the unit's ExecStartPre, nothing done`,
    };
  // The snapshot code loads only at the unit's start (boot-state.ts); the common start reads and returns.
  // Not even that when there is no state to snapshot or put back (prepareStateAtStart would return {}).
  const stateWork = config.statePaths.length > 0 || Boolean(state.transaction?.restore);
  const prepared =
    moment.at !== 'start'
      ? stateLeftAlone(config, state, moment.detail)
      : stateWork
        ? // lazy: the boot-check runs at every start of the unit; only state work loads the snapshot code
          await (await import('../snapshot/boot-state.js')).prepareStateAtStart({
            layout,
            config,
            state,
            version,
            env: await serviceEnvironment(config, env),
          })
        : {};
  if (state.releases[version]?.state !== 'pending') return { version, action: 'none', tries: 0, ...prepared };
  const counted = (await readJsonIfExists(layout.bootTries).catch(() => undefined)) as
    | { version?: string; tries?: number }
    | undefined;
  const tries = (counted?.version === version ? (counted.tries ?? 0) : 0) + 1;
  await writeFileAtomic(layout.bootTries, `${JSON.stringify({ version, tries })}\n`);
  const maxTries = options.maxTries ?? DEFAULT_BOOT_TRIES;
  if (tries <= maxTries) return { version, action: 'counted', tries, ...prepared };
  try {
    // lazy: loaded only on the rare start where a pending release has spent its tries.
    const { crashLoopFlipBack } = await import('../transaction/crash-loop.js');
    return { ...prepared, ...(await crashLoopFlipBack(layout, config, { version, tries, maxTries }, moment)) };
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'BUSY') return { version, action: 'busy', tries, ...prepared };
    throw error;
  }
}

/**
 * Ask systemd whether this is the unit's start: `activating/start-pre` with no main process is
 * ExecStartPre; a main process means the service runs (a boot-check run by hand). Anything else, or
 * no systemd unit to ask about, is unknown: never a moment to write the service's state.
 */
async function startMoment(config: Config, env: NodeJS.ProcessEnv, runner: CommandRunner | undefined): Promise<Moment> {
  if ((config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') || !config.unit) {
    return { at: 'unknown', detail: `supervisor ${config.supervisor}: no systemd unit whose start can be confirmed` };
  }
  try {
    const scope = config.supervisor === 'systemd' ? 'user' : 'system';
    const unit = await systemdSupervisor({
      unit: config.unit,
      scope,
      env,
      timeoutMs: 15_000,
      ...(runner ? { runner } : {}),
    }).state();
    if (unit.mainPid !== null)
      return { at: 'live', detail: `${config.unit} is ${unit.state} with main process ${unit.mainPid}` };
    if (unit.state === 'activating/start-pre') return { at: 'start' };
    return { at: 'unknown', detail: `${config.unit} is ${unit.state}, not in its ExecStartPre` };
  } catch (error) {
    return { at: 'unknown', detail: `systemd could not be asked about ${config.unit} (${(error as Error).message})` };
  }
}

/** Outside the unit's start: say so when there was state to snapshot or put back. */
function stateLeftAlone(config: Config, state: Awaited<ReturnType<typeof readState>>, why: string): StateAtStart {
  if (config.statePaths.length === 0 && !state.transaction?.restore) return {};
  return { stateError: `state neither snapshotted nor put back: ${why}` };
}

/** What a unit's environment may not change in how its state paths read: where commands and Node's code come from. */
const NOT_DATA = /^(PATH|LD_\w+|NODE_\w+)$/;

/**
 * The service's environment, as data for its state paths (`~`, `${OPENCLAW_STATE_DIR}`): as root (the privileged
 * `+` boot-check, started through `env -i`, platform/privileged-env.ts), read from the unit's definition (its User='s
 * home, its Environment=), not taken from this process, which has none of it. Otherwise this process's, which is the
 * service's (the boot-check runs in its unit).
 */
async function serviceEnvironment(config: Config, env: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  if (process.getuid?.() !== 0 || config.supervisor !== 'systemd-system' || !config.unit) return env;
  // lazy: the boot-check runs at every start; only root's boot-check of a system unit reads the unit's settings.
  const { unitSettings } = await import('../transaction/service-identity.js');
  const unit = await unitSettings(config.unit, 'system', env).catch(() => undefined);
  if (!unit) return env;
  const account = lookupAccount(unit.user || 'root');
  const data = Object.fromEntries(Object.entries(unit.environment).filter(([name]) => !NOT_DATA.test(name)));
  return { ...env, ...data, HOME: unit.environment.HOME ?? account?.home ?? env.HOME };
}

/** Why root must not act on this root: the root, its config or its journal may be changed by another account. */
function untrustedRoot(layout: ReturnType<typeof layoutOf>): string | undefined {
  for (const file of [layout.root, layout.config, layout.state]) {
    if (!existsSync(file)) continue;
    const why = untrustedByRoot(file);
    if (why) return `${why} (run the root as the service's own account instead, or give it back to root)`;
  }
  return undefined;
}

/**
 * Record this run (store/boot-check-record.ts) and return `result`. A record that cannot be written is said in the
 * result's detail (the unit's log): the start goes on, and its readers then see no record for this start.
 */
async function withRecord(
  layout: ReturnType<typeof layoutOf>,
  input: {
    config: Config | undefined;
    given: NodeJS.ProcessEnv;
    env: NodeJS.ProcessEnv;
    runner: CommandRunner | undefined;
  },
  result: BootCheckResult | undefined,
  error?: unknown,
): Promise<BootCheckResult> {
  const live = result?.action === 'live';
  try {
    // The start this run belongs to: the unit's InvocationID (in the environment of its ExecStartPre; as root through
    // `env -i` it is not, so systemd is asked). A run by hand while the service runs belongs to no start.
    const invocation = live
      ? null
      : (input.given.INVOCATION_ID ??
        (input.config
          ? ((await unitStart(input.config, { env: input.env, runner: input.runner }))?.invocation ?? null)
          : null));
    const failure = error as { code?: unknown; message?: unknown } | undefined;
    await recordBootCheckRun(layout, {
      at: new Date().toISOString(),
      tool: await ownVersion().catch(() => null),
      invocation,
      action: result?.action ?? 'error',
      version: result?.version ?? null,
      ...(result?.tries ? { tries: result.tries } : {}),
      ...(result?.snapshot && { snapshot: result.snapshot }),
      ...(result?.restored && { restored: result.restored }),
      ...(result?.stateError && { stateError: result.stateError }),
      ...(result?.detail && { detail: result.detail }),
      ...(error !== undefined && {
        error: {
          ...(typeof failure?.code === 'string' && { code: failure.code }),
          message: String(failure?.message ?? error),
        },
      }),
    });
  } catch (recordError) {
    if (!result) throw recordError;
    return {
      ...result,
      detail: `${result.detail ? `${result.detail}; ` : ''}boot-check.json not written: ${(recordError as Error).message}`,
    };
  }
  return result!;
}
