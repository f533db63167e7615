/**
 * Old copies go only when nothing may still need them: not `current` or `previous`, and no running process names them
 * by its command line or its executable (a runner or a boot-check that started keeps the copy it started with: Node
 * resolves the main script's real path, so its lazy imports come from its version folder, and its `exe` is that
 * folder's Node, also when it was started through `current`). A build folder (`.tmp-<pid>-…`) goes when its pid has.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../platform/fs.js';
import { isAlive } from '../platform/subprocess.js';
import { linkTarget } from './flip.js';
import type { ToolLayout } from './home.js';

/** Every path the running processes name (their exe and the words of their command lines), where /proc tells. */
async function namedByProcesses(): Promise<string[]> {
  const pids = (await fs.readdir('/proc').catch(() => [])).filter((name) => /^\d+$/.test(name));
  const named: string[] = [];
  for (const pid of pids) {
    const exe = await fs.readlink(`/proc/${pid}/exe`).catch(() => undefined);
    if (exe) named.push(exe.replace(/ \(deleted\)$/, ''));
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    named.push(...cmdline.split('\0').filter((word) => word.startsWith('/')));
  }
  return named;
}

/** Remove the copies nothing needs, never `also` (the copy the caller is about to run); their names. Under the lock. */
export async function removeUnused(layout: ToolLayout, also: string): Promise<string[]> {
  const keep = new Set([await linkTarget(layout.current), await linkTarget(layout.previous), also]);
  const names = await fs.readdir(layout.versions).catch(() => [] as string[]);
  const candidates = names.filter((name) => {
    if (keep.has(name)) return false;
    const building = /^\.tmp-(\d+)-/.exec(name);
    return building ? !isAlive(Number(building[1])) : !name.startsWith('.');
  });
  if (candidates.length === 0) return [];
  const named = await namedByProcesses();
  const removed: string[] = [];
  for (const name of candidates) {
    const dir = path.join(layout.versions, name);
    if (named.some((word) => word === dir || word.startsWith(`${dir}/`))) continue;
    await removeTree(dir);
    removed.push(name);
  }
  return removed;
}
