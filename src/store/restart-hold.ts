/**
 * The restart hold: from the moment the old process is asked to exit (the restart handoff) until the target's finalize
 * has ended, the service must stay stopped, whatever its unit's Restart=/RestartSec= say. Otherwise a `Restart=always`
 * unit (OpenClaw's own, RestartSec=5; its Ansible role's, RestartSec=10) starts the service on its own once the old
 * process has exited, on the flipped `current`, before finalize has run, and beside it.
 *
 * The hold is a file, `<root>/restart-hold`, holding a deadline (seconds since the epoch). The units we write carry an
 * `ExecCondition=` (`holdConditionCommand`) that skips a start while the deadline is still to come. A skipped
 * condition is neither a failure nor restarted again by `Restart=always` (systemd.service(5), ExecCondition=), and our
 * own start comes after the hold is released. The deadline is renewed while the hold is kept, so a holder killed with
 * it held keeps the service down for at most `HOLD_TTL_SECONDS`, and recovery (run under the lock, so nobody else can
 * be holding) removes it at once.
 */
import fs from 'node:fs/promises';
import { errnoOf } from '../model/errors.js';
import { writeFileAtomic } from '../platform/fs.js';
import type { Layout } from './layout.js';

/** How long a hold lasts unless renewed: what a holder that died costs the service at worst. */
export const HOLD_TTL_SECONDS = 60;
const RENEW_EVERY_MS = 15_000;

export interface RestartHold {
  /** Ends the hold: the next start, ours or the manager's, goes ahead. */
  release(): Promise<void>;
}

/** Holds the manager's own starts of the service until `release` (or until a renewal is missed by a whole TTL). */
export async function holdRestarts(layout: Layout): Promise<RestartHold> {
  const write = () =>
    // World-readable: the condition runs as the unit's user, which need not be the root's owner.
    writeFileAtomic(layout.restartHold, `${Math.ceil(Date.now() / 1000) + HOLD_TTL_SECONDS}\n`, {
      durable: false,
      mode: 0o644,
    });
  await write();
  let renewing = Promise.resolve();
  const timer = setInterval(() => {
    renewing = write().catch(() => undefined); // a missed renewal only shortens the hold
  }, RENEW_EVERY_MS);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await renewing;
      await fs.rm(layout.restartHold, { force: true });
    },
  };
}

/** Recovery's part: a hold left by a process that died holding it. True when there was one. */
export async function removeStaleHold(layout: Layout): Promise<boolean> {
  return fs.unlink(layout.restartHold).then(
    () => true,
    (error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return false;
      throw error;
    },
  );
}

/**
 * The unit's `ExecCondition=` command: exits 1 (the start is skipped) while `hold` names a deadline still to come, 0
 * otherwise: no file, an unreadable or malformed one, a deadline passed. A shell, not Node: it runs before every start,
 * and it must work when release-switcher itself is gone (a condition that cannot run skips the start).
 */
export function holdConditionCommand(hold: string): string[] {
  const script = [
    'd=; { read -r d < "$1"; } 2>/dev/null',
    `case $d in ''|*[!0-9]*) exit 0;; esac`,
    '[ "$(date +%s)" -ge "$d" ] && exit 0',
    'echo "release-switcher holds this start until $(date -d "@$d" 2>/dev/null || echo "$d"): an update is between the old process\'s exit and its finalize ($1)" >&2',
    'exit 1',
  ].join('; ');
  return ['/bin/sh', '-c', script, 'release-switcher-hold', hold];
}
