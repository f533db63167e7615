import { activate } from '../activate.js';
import { ReleaseSwitcherError } from '../errors.js';
import type { Transaction } from '../journal.js';
import { readLinkVersion } from '../links.js';
import { type RootOptions, mutate } from '../session.js';
import { publicTransaction } from './list.js';

export interface SwitchOptions extends RootOptions {
  /** An installed version. */
  version: string;
}

/** Activate an installed release. */
export async function switchTo(options: SwitchOptions): Promise<Transaction> {
  return mutate(options, `switch ${options.version}`, async (session) => publicTransaction(await activate(session, { kind: 'switch', target: options.version }))!);
}

export interface RollbackOptions extends RootOptions {
  /** The release to go back to. @default the `previous` link */
  version?: string;
}

/** Switch back to `previous`, or to the named release. */
export async function rollback(options: RollbackOptions): Promise<Transaction> {
  return mutate(options, 'rollback', async (session) => {
    const target = options.version ?? (await readLinkVersion(session.layout, 'previous'));
    if (!target) {
      throw new ReleaseSwitcherError('NO_PREVIOUS', 'There is no previous release to roll back to.', {
        hint: 'Name one: release-switcher rollback VERSION (see release-switcher list).',
      });
    }
    return publicTransaction(await activate(session, { kind: 'rollback', target }))!;
  });
}
