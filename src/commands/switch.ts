import { ReleaseSwitcherError } from '../model/errors.js';
import type { Transaction } from '../model/state.js';
import { readLinkVersion } from '../store/links.js';
import { type HandoffOptions, activateOrSchedule, transact } from '../transaction/schedule.js';
import type { RootOptions } from '../store/session.js';

export interface SwitchOptions extends RootOptions, HandoffOptions {
  /** An installed version. */
  version: string;
}

/** Activate an installed release: flip, restart, verify, roll back on failure. */
export async function switchTo(options: SwitchOptions): Promise<Transaction> {
  return transact(options, `switch ${options.version}`, (session) => activateOrSchedule(session, 'switch', options.version, options.handoff, options.preflight));
}

export interface RollbackOptions extends RootOptions, HandoffOptions {
  /** The release to go back to. @default the `previous` link */
  version?: string;
}

/** Switch back to `previous`, or to the named release. */
export async function rollback(options: RollbackOptions): Promise<Transaction> {
  return transact(options, 'rollback', async (session) => {
    const target = options.version ?? (await readLinkVersion(session.layout, 'previous'));
    if (!target) {
      throw new ReleaseSwitcherError('NO_PREVIOUS', 'There is no previous release to roll back to.', {
        hint: 'Name one: release-switcher rollback VERSION (see release-switcher list).',
      });
    }
    return activateOrSchedule(session, 'rollback', target, options.handoff);
  });
}
