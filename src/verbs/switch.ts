import { ReleaseSwitcherError } from '../model/errors.js';
import type { Transaction } from '../model/state.js';
import { readLinkVersion } from '../store/links.js';
import { type HandoffOptions, transact } from '../transaction/schedule.js';
import { type RootOptions, openSession } from '../store/session.js';
import type { Layout } from '../store/layout.js';
import { readState } from '../store/journal.js';
import { type SwitchPlan, planSwitch } from '../transaction/plan.js';
import { callerOptions } from '../transaction/options.js';

export interface SwitchOptions extends RootOptions, HandoffOptions {
  /** An installed version. */
  version: string;
}

/** Activate an installed release: flip, restart, verify, roll back on failure. */
export async function switchTo(options: SwitchOptions): Promise<Transaction> {
  return transact(options, {
    kind: 'switch',
    command: `switch ${options.version}`,
    target: async () => options.version,
    handoff: options.handoff,
    options: callerOptions(options),
    // Activating what is installed needs nothing from the network: a download holding the lock gives way.
    overStaging: true,
  });
}

export interface RollbackOptions extends RootOptions, HandoffOptions {
  /** The release to go back to. @default the `previous` link */
  version?: string;
}

/** Switch back to `previous`, or to the named release. */
export async function rollback(options: RollbackOptions): Promise<Transaction> {
  return transact(options, {
    kind: 'rollback',
    command: 'rollback',
    target: (session) => rollbackTarget(session.layout, options.version),
    handoff: options.handoff,
    // A rollback is not rehearsed (its target ran here before): `preflight` is not among its options.
    options: callerOptions(options, ['acceptCapabilities', 'checkpoint', 'node']),
    overStaging: true,
  });
}

async function rollbackTarget(layout: Layout, version: string | undefined): Promise<string> {
  const target = version ?? (await readLinkVersion(layout, 'previous'));
  if (!target) {
    throw new ReleaseSwitcherError('NO_PREVIOUS', 'There is no previous release to roll back to.', {
      hint: 'Name one: release-switcher rollback VERSION (see release-switcher list).',
    });
  }
  return target;
}

/** What `switch VERSION` would do; reads only, takes no lock. */
export async function planSwitchTo(options: SwitchOptions): Promise<SwitchPlan> {
  const session = await openSession(options);
  return planSwitch(
    { ...session, state: await readState(session.layout.root) },
    {
      kind: 'switch',
      target: options.version,
      ...callerOptions(options, ['preflight', 'checkpoint', 'node']),
    },
  );
}

/** What `rollback [VERSION]` would do; reads only, takes no lock. */
export async function planRollback(options: RollbackOptions): Promise<SwitchPlan> {
  const session = await openSession(options);
  const target = await rollbackTarget(session.layout, options.version);
  return planSwitch(
    { ...session, state: await readState(session.layout.root) },
    {
      kind: 'rollback',
      target,
      ...callerOptions(options, ['checkpoint', 'node']),
    },
  );
}
