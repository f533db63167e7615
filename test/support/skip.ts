// A suite that needs something this machine may lack (root, Linux, systemd, chattr). Its title says why
// it is skipped and where it runs instead, so a skip never reads as a pass.
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { probeImmutable } from '../../src/platform/immutable.ts';

export interface Where {
  ok: boolean;
  why?: string | undefined;
  where?: string;
}

/** The title of a skipped suite or case: why it is skipped and where it runs instead, said on stderr too (the default reporter prints only a count). */
function skippedTitle(can: Where, title: string): string {
  const skipped = `${title} (skipped: ${can.why ?? 'not available here'}; it runs ${can.where ?? 'in CI, as root on Linux'})`;
  process.stderr.write(`${skipped}\n`);
  return skipped;
}

export function describeWhere(can: Where, title: string, body: () => void): void {
  if (can.ok) describe(title, body);
  else describe.skip(skippedTitle(can, title), body); // the title says why and where it runs
}

/** One test that needs what this machine may lack: as describeWhere, for a single case. */
export function itWhere(can: Where, title: string, body: () => Promise<void> | void, timeout?: number): void {
  if (can.ok) it(title, body, timeout);
  else it.skip(skippedTitle(can, title), body); // the title says why and where it runs
}

/** A program the test runs (fish, zsh, groff…): present, or why not and where it is. */
export function hasTool(tool: string, where = 'in CI, which installs it (.ci/run)'): Where {
  const ok = spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
  return { ok, why: `${tool} is not installed here`, where };
}

export const onLinux = {
  ok: process.platform === 'linux',
  why: `process groups and /proc are Linux's; this is ${process.platform}`,
  where: 'on Linux: CI and every Linux machine',
};

/**
 * Whether the immutable attribute (chattr +i) can be set in `dir`: it needs root (CAP_LINUX_IMMUTABLE) and a
 * filesystem that keeps it (ext4, xfs, btrfs; not tmpfs or overlayfs). CI runs the suite as root on ext4.
 */
export async function canSetImmutable(dir: () => string): Promise<Where> {
  const support =
    process.getuid?.() === 0 ? await probeImmutable(dir()) : { supported: false as const, reason: 'not root' };
  return {
    ok: support.supported,
    why: support.supported ? undefined : `chattr +i is refused here (${support.reason})`,
    where: 'as root on ext4, xfs or btrfs: CI runs the suite so (.ci/run)',
  };
}
