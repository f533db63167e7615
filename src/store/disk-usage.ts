/**
 * How much disk each release takes once dedupe has shared files between them: bytes only it holds,
 * and bytes it shares with other releases (each shared inode is on disk once, whoever lists it).
 */
import fs from 'node:fs/promises';
import type { Layout } from './layout.js';
import { mapLimit, walkTree } from '../platform/tree.js';

export interface ReleaseUsage {
  /** Bytes of files no other release links to. */
  own: number;
  /** Bytes of files shared (hardlinked) with other releases. */
  shared: number;
}

export async function releaseUsage(layout: Layout, versions: readonly string[]): Promise<Map<string, ReleaseUsage>> {
  const owners = new Map<bigint, { size: number; versions: Set<string> }>();
  for (const version of versions) {
    const files = (await walkTree(layout.release(version)).catch(() => [])).filter((entry) => entry.dirent.isFile());
    await mapLimit(files, 32, async ({ abs }) => {
      const stat = await fs.lstat(abs, { bigint: true });
      const seen = owners.get(stat.ino) ?? { size: Number(stat.blocks) * 512, versions: new Set<string>() };
      seen.versions.add(version);
      owners.set(stat.ino, seen);
    });
  }
  const usage = new Map<string, ReleaseUsage>(versions.map((v) => [v, { own: 0, shared: 0 }]));
  for (const { size, versions: holders } of owners.values()) {
    for (const version of holders) {
      const entry = usage.get(version)!;
      if (holders.size === 1) entry.own += size;
      else entry.shared += size;
    }
  }
  return usage;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}
