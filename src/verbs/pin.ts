import { ReleaseSwitcherError } from '../model/errors.js';
import { mutate } from '../transaction/mutate.js';
import { setPinned } from '../transaction/record.js';
import type { RootOptions } from '../store/session.js';

export interface PinOptions extends RootOptions {
  version: string;
  /** False to unpin. @default true */
  pinned?: boolean;
}

export interface PinResult {
  version: string;
  pinned: boolean;
}

/** Mark a release so that prune never removes it (or take the mark away). */
export async function pin(options: PinOptions): Promise<PinResult> {
  const pinned = options.pinned ?? true;
  return mutate(options, `${pinned ? 'pin' : 'unpin'} ${options.version}`, async ({ journal }) => {
    const record = journal.state.releases[options.version];
    if (!record) {
      throw new ReleaseSwitcherError('RELEASE_NOT_FOUND', `Release ${options.version} is not installed.`, {
        hint: 'See release-switcher list.',
      });
    }
    if (setPinned(record, pinned)) await journal.commit();
    return { version: options.version, pinned };
  });
}
