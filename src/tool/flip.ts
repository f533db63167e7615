/**
 * The tool home's links, changed only under its lock and journaled: `flip.json` says what `current` and `previous`
 * will name before either moves, and goes once both have. A flip cut short (kill -9, power) is finished at the next
 * use when the copies it names are there, else undone: the links never name a copy that is not complete.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { fsyncDir, writeFileAtomic } from '../platform/fs.js';
import { isAlive } from '../platform/subprocess.js';
import { flipSymlink } from '../store/links.js';
import { isComplete } from './copy.js';
import type { ToolLayout } from './home.js';

interface FlipJournal {
  from: { current: string | null; previous: string | null };
  to: { current: string; previous: string | null };
}

/** The version folder name a link names (`versions/<name>`), or null when there is no link. */
export async function linkTarget(link: string): Promise<string | null> {
  const target = await fs.readlink(link).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return null;
    throw error;
  });
  return target === null ? null : path.basename(target);
}

async function pointAt(link: string, name: string | null): Promise<void> {
  if (name === null) await fs.rm(link, { force: true });
  else await flipSymlink(link, path.join('versions', name));
}

/** Finish or undo a flip cut short. Under the lock. */
export async function settleFlip(layout: ToolLayout): Promise<void> {
  const text = await fs.readFile(layout.journal, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const journal = JSON.parse(text) as FlipJournal;
  const whole = await isComplete(path.join(layout.versions, journal.to.current));
  const links = whole ? journal.to : journal.from;
  await pointAt(layout.previous, links.previous);
  if (links.current !== null) await pointAt(layout.current, links.current);
  await fs.rm(layout.journal, { force: true });
  await fsyncDir(layout.home);
}

/** Point `current` at `name` and `previous` at what `current` named. Under the lock. */
export async function flipTo(layout: ToolLayout, name: string): Promise<void> {
  const current = await linkTarget(layout.current);
  if (current === name) return;
  const journal: FlipJournal = {
    from: { current, previous: await linkTarget(layout.previous) },
    to: { current: name, previous: current },
  };
  await writeFileAtomic(layout.journal, JSON.stringify(journal), { mode: 0o644 });
  // previous first: at every instant current names a whole copy, and previous one that is kept.
  await pointAt(layout.previous, journal.to.previous);
  await pointAt(layout.current, name);
  await fs.rm(layout.journal, { force: true });
  await fsyncDir(layout.home);
}

const LOCK_WAIT_MS = 60_000;

/**
 * Run `action` holding the tool home's lock: a folder made by mkdir(2) with the holder's pid inside; one whose holder
 * is gone is taken over. Building a copy needs no lock (its rename settles a race); changing links and removing do.
 */
export async function withToolLock<T>(layout: ToolLayout, action: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  const owner = path.join(layout.lock, 'pid');
  for (;;) {
    try {
      await fs.mkdir(layout.lock, { mode: 0o755 });
      await fs.writeFile(owner, String(process.pid));
      break;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
      const pid = Number(await fs.readFile(owner, 'utf8').catch(() => ''));
      const since = (await fs.stat(layout.lock).catch(() => undefined))?.mtimeMs ?? 0;
      // A holder that died (or one that died between mkdir and writing its pid, seen a while later) left it.
      if ((pid > 0 && !isAlive(pid)) || (!(pid > 0) && Date.now() - since > 5_000)) {
        await fs.rm(layout.lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new ReleaseSwitcherError('BUSY', `The tool home ${layout.home} is locked by pid ${pid || '?'}.`, {
          hint: 'Another release-switcher is updating its pinned copy; run the command again when it is done.',
        });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await action();
  } finally {
    await fs.rm(layout.lock, { recursive: true, force: true });
  }
}
