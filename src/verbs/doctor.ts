import { readConfig } from '../store/config.js';
import { CHECKS, type CheckResult } from '../doctor/checks.js';
import { SERVICE_CHECKS } from '../doctor/service.js';
import { commandsOnPath } from '../doctor/commands-on-path.js';
import { listedRoots } from '../doctor/listed-roots.js';
import { bootCheckRan } from '../doctor/boot-check-ran.js';
import { toolCommands } from '../doctor/tool.js';
import { ownershipChecks } from '../doctor/ownership.js';
import { layoutOf } from '../store/layout.js';
import type { RootOptions } from '../store/session.js';
import { resolveRuntime } from '../model/runtime.js';
import { isReleaseSwitcherError } from '../model/errors.js';

export interface DoctorOptions extends RootOptions {
  /** Repair what is safe to repair (staging leftovers, stale locks, a dangling previous, linger). @default false */
  fix?: boolean;
  /** Re-hash every file of every release instead of trusting unchanged stat fingerprints. @default false */
  deep?: boolean;
}

export interface DoctorResult {
  checks: CheckResult[];
}

/**
 * Check the root and the service it supervises. Reads only, unless `fix`. Root on an account's root checks only who
 * owns its files (and with `fix` gives root's back to the account): the rest is the account's to run.
 */
export async function doctor(options: DoctorOptions): Promise<DoctorResult> {
  const layout = layoutOf(options.root);
  const ownership = await ownershipChecks(layout.root, options.fix ?? false);
  if (ownership.forOwner) return { checks: ownership.checks };
  const mixed = ownership.checks.some((c) => !c.ok);
  const config = await readConfig(layout.root).catch((error: unknown) => {
    // Locked out by root's files in its own root: the one-owner check says what gives them back; that is the report.
    if (mixed && isReleaseSwitcherError(error) && error.code === 'PERMISSION_DENIED') return error;
    throw error;
  });
  if (isReleaseSwitcherError(config))
    return {
      checks: [...ownership.checks, { name: 'layout', ok: false, detail: `${config.code}: ${config.message}` }],
    };
  const { env, signal } = resolveRuntime(options);
  const ctx = { layout, config, env, signal, fix: options.fix ?? false, deep: options.deep ?? false };
  const checks: CheckResult[] = [...ownership.checks];
  for (const check of CHECKS) checks.push(await check(ctx));
  for (const check of [...SERVICE_CHECKS, commandsOnPath, listedRoots, bootCheckRan, toolCommands]) {
    const result = await check(ctx).catch((error: unknown) => {
      if (isReleaseSwitcherError(error) && error.code === 'CANCELLED') throw error;
      return { name: check.name, ok: false, detail: `check failed: ${(error as Error).message}` };
    });
    if (result) checks.push(result);
  }
  return { checks };
}
