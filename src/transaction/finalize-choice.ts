/**
 * Where a preset's finalize runs and with what (finalize-step.ts in the window, finalize-ahead-step.ts before the stop,
 * capability-review-step.ts on a copy), and where the service keeps its config: what all three ask first.
 */
import path from 'node:path';
import { makeServiceNpmCachePrivate } from '../platform/npm-cache.js';
import type { RunAs } from '../platform/run-as.js';
import { runCaptured } from '../platform/subprocess.js';
import type { Transaction } from '../model/state.js';
import { STOPPABLE, type Supervisor } from '../service/supervisors/types.js';
import type { Config } from '../store/config.js';
import { type ConfigLocator, servicePreset, type Preset } from '../presets/index.js';

const LOOKUP_TIMEOUT_MS = 120_000;

/**
 * The root's preset's finalize, when it has one, under a supervisor that can stop the service, on the service's Node: a
 * preset that needs a Node of its own (openclaw: >= 24) only on a configured one, any other on the configured one or
 * ours (runtime.ts servingNode), as its unit runs it.
 */
export function finalizeOf(config: Config, supervisor: Supervisor | null): Preset['finalize'] {
  const preset = servicePreset(config);
  const finalize = preset?.finalize;
  return finalize && (config.node || !preset.node) && supervisor?.stop ? finalize : undefined;
}

/** For --dry-run: the steps a supervised activation of this root runs between the flip and the restart. */
export function finalizeSteps(config: Config): {
  handoff: boolean;
  finalize: boolean;
  review: boolean;
  ahead: boolean;
} {
  const preset = servicePreset(config);
  const finalize = Boolean(preset?.finalize && (config.node || !preset.node) && STOPPABLE.has(config.supervisor));
  const review = finalize && consentReviewOf(preset?.finalize) !== undefined;
  // finalize-ahead-step.ts decides the rest as it comes (a restore, the same release, the state in one folder).
  const ahead = finalize && Boolean(preset?.finalize?.ahead) && config.finalizeAhead !== false;
  return { handoff: finalize && Boolean(preset?.restartHandoff), finalize, review, ahead };
}

/** The capability review a preset's finalize asks for (capability-review-step.ts): it needs the plugin list too. */
export function consentReviewOf(finalize: Preset['finalize']) {
  return finalize?.extensions ? finalize.consentReview : undefined;
}

/** The preset's finalize command, with the consent flag when the transaction was asked to accept capability changes. */
export function finalizeArgs(
  finalize: NonNullable<Preset['finalize']>,
  tx: Pick<Transaction, 'acceptCapabilities'>,
): string[] {
  return [...finalize.args, ...(tx.acceptCapabilities && finalize.consentFlag ? [finalize.consentFlag] : [])];
}

/**
 * The service's config file, as it would find it (the preset's `locate`), each candidate asked as the service's
 * account (`test -f`): root acting for it follows no link the account planted in its home.
 */
export async function liveConfigAs(
  locate: ConfigLocator,
  env: NodeJS.ProcessEnv,
  as: RunAs | undefined,
): Promise<string | null> {
  return locate(env as Record<string, string | undefined>, '/', (file) =>
    runCaptured('/usr/bin/test', ['-f', file], {
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
      timeoutMs: LOOKUP_TIMEOUT_MS,
      as,
      cwd: '/',
    }).then((r) => !r.failed),
  );
}

/**
 * The service's npm setup named for a finalize run on a copy (the review's, finalize ahead's), which a HOME moved to
 * the copy would otherwise hide: its cache (made private to the account) and its user config.
 */
export async function serviceNpmSetup(
  env: NodeJS.ProcessEnv,
  as: RunAs | undefined,
): Promise<{ npm_config_cache: string; npm_config_userconfig: string }> {
  const npm = {
    npm_config_cache: env.npm_config_cache ?? path.join(env.HOME ?? '/', '.npm'),
    npm_config_userconfig: env.npm_config_userconfig ?? path.join(env.HOME ?? '/', '.npmrc'),
  };
  await makeServiceNpmCachePrivate(npm, as);
  return npm;
}
