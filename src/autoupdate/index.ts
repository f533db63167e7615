/**
 * The auto-updater: `check` (read-only: what would a tick do, and why) and `autoUpdate` (one timer
 * tick). The rules are in ./policy.ts; this module fetches the packument, reads the root and acts.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { rollback } from '../verbs/switch.js';
import { update } from '../verbs/update.js';
import type { Channel, Config } from '../store/config.js';
import { isReleaseSwitcherError } from '../model/errors.js';
import { resolveRuntime } from '../model/runtime.js';
import { readState } from '../store/journal.js';
import type { Transaction } from '../model/state.js';
import { readLinkVersion } from '../store/links.js';
import type { HandoffOptions } from '../transaction/schedule.js';
import { type RootOptions, openSession } from '../store/session.js';
import { fetchPackument } from '../registry/fetch.js';
import { type AutoUpdatePause, readPause, removePause, writePause } from '../store/auto-update-pause.js';
import { layoutOf } from '../store/layout.js';
import { chooseChannel } from '../transaction/channel.js';
import { type PolicyResult, decide } from './policy.js';

export interface CheckOptions extends RootOptions {
  /** The clock the cooldown is measured against. @default new Date() */
  now?: Date;
}

export type AutoUpdateOptions = CheckOptions & HandoffOptions;

export type CheckResult = PolicyResult & {
  current: string | null;
  channel: Channel;
  /**
   * Where the channel was decided: `config.json channel`, the service's own setting (`<file> update.channel`), or
   * `the default`.
   */
  channelFrom: string;
};

export interface AutoUpdateSkipped {
  /**
   * `disabled`: an opt-out variable is set; `paused`: `timer --pause`; `busy`: another operation holds the lock;
   * `nothing_to_do`: see `check`.
   */
  skipped: 'disabled' | 'paused' | 'busy' | 'nothing_to_do';
  reason: string;
  /** The policy's view, when it was consulted. */
  check?: CheckResult;
}

export type AutoUpdateResult = Transaction | AutoUpdateSkipped;

/** Either variable set to `1` turns the timer's ticks into no-ops (OPENCLAW_…: the gateway's own switch). */
export const OPT_OUT_VARIABLES = ['RELEASE_SWITCHER_NO_AUTO_UPDATE', 'OPENCLAW_NO_AUTO_UPDATE'] as const;

const MACHINE_ID = '/etc/machine-id';
/** pacote's default when neither config.json nor npm's settings name one. */
const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

/** This host for rollout and jitter: the configured id, else /etc/machine-id, else the hostname. */
export async function hostIdOf(config: Pick<Config, 'hostId'>, machineIdFile = MACHINE_ID): Promise<string> {
  if (config.hostId) return config.hostId;
  // An empty machine-id is a "first boot" image placeholder, shared by every host built from it.
  const machineId = (await fs.readFile(machineIdFile, 'utf8').catch(() => '')).trim();
  return machineId || os.hostname();
}

async function evaluate(options: CheckOptions): Promise<{ config: Config; result: CheckResult }> {
  const session = await openSession(options);
  const { layout, config } = session;
  const [packument, state, current, hostId, choice] = await Promise.all([
    fetchPackument(config, session.runtime, { fullMetadata: true }),
    readState(layout.root),
    readLinkVersion(layout, 'current'),
    hostIdOf(config),
    chooseChannel(session),
  ]);
  const registry = config.registry ?? session.runtime.npmConfig.registry ?? DEFAULT_REGISTRY;
  const result = decide({
    packument,
    releases: state.releases,
    current,
    last: state.transaction ?? state.history.at(-1) ?? null,
    config: { ...config, channel: choice.channel },
    hostId,
    registry: String(registry),
    now: options.now ?? new Date(),
  });
  return { config, result: { current, channel: choice.channel, channelFrom: choice.from, ...result } };
}

/** What a tick would do now, and why. Reads only; takes no lock. */
export async function check(options: CheckOptions): Promise<CheckResult> {
  return (await evaluate(options)).result;
}

function optedOut(env: NodeJS.ProcessEnv): string | undefined {
  return OPT_OUT_VARIABLES.find((name) => env[name] === '1');
}

/** A paused root's tick, in words: since when, by whom, why. */
function pausedTick(pause: AutoUpdatePause, check?: CheckResult): AutoUpdateSkipped {
  const who = [pause.since && `since ${pause.since}`, pause.user && `by ${pause.user}`].filter(Boolean).join(' ');
  const reason = `paused${who ? ` ${who}` : ''}${pause.reason ? ` (${pause.reason})` : ''}; resume with: release-switcher timer --resume`;
  return { skipped: 'paused', reason, ...(check ? { check } : {}) };
}

/**
 * One tick of the timer: take the channel's version when the policy allows it, or leave a running
 * version the registry deprecated or unpublished. A held lock skips the tick: the next one retries.
 */
export async function autoUpdate(options: AutoUpdateOptions): Promise<AutoUpdateResult> {
  const disabledBy = optedOut(resolveRuntime(options).env);
  if (disabledBy) return { skipped: 'disabled', reason: `${disabledBy}=1` };
  const layout = layoutOf(options.root);
  const pause = await readPause(layout);
  if (pause.paused) return pausedTick(pause);
  const { config, result } = await evaluate(options);
  try {
    if (result.action === 'none') return { skipped: 'nothing_to_do', reason: result.reason, check: result };
    // Paused while the registry was read: nothing is started (a tick already switching is not stopped).
    const late = await readPause(layout);
    if (late.paused) return pausedTick(late, result);
    // Whoever ran it (the timer's unit, a person trying a tick), the change is the timer's: its policy chose it.
    const origin = { ...options.origin, by: 'timer' as const, why: result.reason, detail: result.detail };
    if (result.action === 'update')
      return await update({
        ...options,
        origin,
        spec: `${config.package}@${result.version}`,
        followed: { channel: result.channel, from: result.channelFrom },
      });
    return await rollback({ ...options, origin, version: result.version });
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'BUSY')
      return { skipped: 'busy', reason: error.message, check: result };
    throw error;
  }
}

export interface PauseOptions extends RootOptions {
  /** Why, for `status` and the skipped ticks to say. @default none */
  reason?: string;
}

/**
 * Pause the auto-updater of this root: every tick does nothing (skipped `paused`, exit 0) until `resumeAutoUpdate`.
 * A tick already switching finishes. Takes no lock: it lands while a tick holds it.
 */
export async function pauseAutoUpdate(options: PauseOptions): Promise<AutoUpdatePause> {
  const { layout } = await openSession(options); // a root that is not one is refused here
  return writePause(layout, { user: options.origin?.user, reason: options.reason });
}

/** Resume the auto-updater: the next tick decides as `check` does. */
export async function resumeAutoUpdate(options: RootOptions): Promise<AutoUpdatePause> {
  const { layout } = await openSession(options);
  return removePause(layout);
}

export type { AutoUpdatePause } from '../store/auto-update-pause.js';
export type {
  Decision,
  NoneReason,
  PackumentView,
  PolicyEvidence,
  PolicyInput,
  PolicyResult,
  RollbackReason,
} from './policy.js';
export { decide, rolloutBucket, jitterSeconds, JITTER_MAX_SECONDS } from './policy.js';
export { channelVersion } from '../registry/dist-tags.js';
