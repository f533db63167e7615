// One `npm install -g` of each openclaw version per machine, shared by the openclaw tier's files. Each file used to
// install its own (four files, five installs of 40–90 s on CI, where no prepared prefix exists): now the first file
// that asks installs it under .bench-cache/, the others find it there. A prepared prefix is only read: a test that
// runs a gateway from the npm -g prefix itself, or asserts that nothing in it changes, copies it (`copyOpenclaw`).
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import type { Account } from './accounts.ts';
import { accountNpmCache, ensureOpenclaw, giveTo } from './openclaw.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
/** The team's machines: prefixes and an npm cache prepared once for everybody (read-only; absent on CI). */
const SHARED_CACHE = process.env.OPENCLAW_SHARED_CACHE ?? '/work/shared-cache';
/** Where the prepared installs are kept when there is no shared one (CI), across the run and later runs. */
const PREPARED = process.env.OPENCLAW_PREPARED_DIR ?? path.join(REPO, '.bench-cache', 'openclaw');

/**
 * npm's cache for openclaw: on CI one kept under .bench-cache/ for the whole run (the prepared installs fill it, so
 * a test's own staging of openclaw downloads nothing twice); where the shared cache exists, a copy of it in `work`
 * (never written in place).
 */
export async function openclawNpmCache(work: string): Promise<string> {
  const shared = path.join(SHARED_CACHE, 'npm');
  if (!existsSync(shared)) return path.join(PREPARED, 'npm-cache');
  const copy = path.join(work, 'npm-cache');
  if (!existsSync(copy)) await copyTree(shared, copy);
  return copy;
}

/**
 * The npm cache a file's CLI and gateway use: the one warm cache of the tier (`openclawNpmCache`), copied for `account`
 * and owned by it. Every file takes this one: a cache of their own (an empty `.bench-cache/npm-openclaw` on a fresh
 * clone) had finalize, the capability review and the install shapes download openclaw's whole tree again. Call it after
 * the prepared prefix the file uses (`copyOpenclaw`, `preparedOpenclaw`): on a fresh machine that install is what fills
 * the cache.
 */
export async function ownOpenclawNpmCache(work: string, account: Account | undefined): Promise<string> {
  const prepared = await openclawNpmCache(work);
  const cache = prepared.startsWith(`${work}/`) ? prepared : await accountNpmCache(work, prepared, account);
  await giveTo(account, cache);
  return cache;
}

/** `cp -a`: modes, times and links as they are (a prefix holds 40,000 entries; cp takes 10 s of it, fs.cpSync more). */
async function copyTree(from: string, to: string): Promise<void> {
  await execa('cp', ['-a', from, to]);
}

const hasOpenclaw = (prefix: string) =>
  existsSync(path.join(prefix, 'lib', 'node_modules', 'openclaw', 'package.json'));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Runs `body` holding `<dir>.lock` (a folder naming its owner's pid; a dead owner's is taken over). */
async function withLock<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 1_800_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(existsSync(path.join(lock, 'pid')) ? readFileSync(path.join(lock, 'pid'), 'utf8') : 0);
      // No pid yet: its owner is between mkdir and write; a pid that is gone: its owner died installing.
      if (owner > 0 && !alive(owner)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} still held by pid ${owner}`);
      else await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * A prefix holding `npm install -g openclaw@<version>` (the service Node's npm: 24, or RS_SERVICE_NODE's), to be read only: the shared one where it
 * exists, else one installed once under .bench-cache/openclaw/ and kept for later runs.
 */
export async function preparedOpenclaw(version: string): Promise<string> {
  const shared = path.join(SHARED_CACHE, `oc-${version}`);
  if (hasOpenclaw(shared)) return shared;
  // Per Node line: its install scripts ran on that Node (RS_SERVICE_NODE=26 gets a prefix of its own).
  const line = process.env.RS_SERVICE_NODE ?? '24';
  const dir = path.join(PREPARED, line === '24' ? version : `${version}-node${line}`);
  return prefixMadeOnce(dir, async (prefix) => {
    const node = process.env.BENCH_NODE24 ?? (await ensureServiceNode()).node;
    await ensureOpenclaw({
      node,
      prefix,
      version,
      logsDir: path.join(dir, 'npm-logs'),
      cache: path.join(PREPARED, 'npm-cache'),
    });
  });
}

/**
 * `<dir>/prefix`, made by `make` the first time it is asked for, under `<dir>.lock` (other workers wait for it, then
 * find it). `<dir>/.complete` is written last: a folder without it is a making that was interrupted, and is made again.
 */
async function prefixMadeOnce(dir: string, make: (prefix: string) => Promise<void>): Promise<string> {
  const prefix = path.join(dir, 'prefix');
  const complete = path.join(dir, '.complete');
  if (existsSync(complete)) return prefix;
  mkdirSync(path.dirname(dir), { recursive: true });
  return withLock(dir, async () => {
    if (existsSync(complete)) return prefix;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await make(prefix);
    writeFileSync(complete, `${new Date().toISOString()}\n`);
    return prefix;
  });
}

/**
 * A copy of the prepared prefix of `version` at `dest` (symbolic links kept as they are), for a test that runs a
 * gateway from the npm -g prefix itself or changes it. `link`: every entry but the folders a hard link to the prepared
 * one (`cp --link` links symbolic links too), for a test that only runs the gateway from it and adopts it (its links
 * replaced, nothing written or chmodded in place): the folders are its own, the linked entries stay root's and read-only
 * to an account (`givePrefixTo`), so the kernel keeps a test's account from writing through them. A copy of openclaw's
 * 40,000 entries took 11.8-20.6 s of system CPU on this kind of machine's disk, a linked one 1.9 s. Seen 2026-11-29
 * (9.5): a gateway's start, `plugins install @openclaw/matrix` and a start with it, as root from a copy, changed
 * nothing in the prefix.
 */
export async function copyOpenclaw(version: string, dest: string, options: { link?: boolean } = {}): Promise<string> {
  const prepared = await preparedOpenclaw(version);
  if (!options.link) await copyTree(prepared, dest);
  else {
    const source = await linkableFrom(prepared, path.dirname(dest));
    const linked = await execa('cp', ['-a', '--link', source, dest], { reject: false });
    if (linked.exitCode !== 0) {
      // Links refused (the source on another file system than dest, or one without links): a copy.
      rmSync(dest, { recursive: true, force: true });
      await copyTree(source, dest);
    }
  }
  return dest;
}

/**
 * The prepared prefix of `version` on the file system of `dir`, where links to it can be made: the prepared one itself,
 * or, when the tier works on another file system than the prepared installs (in memory: vitest.config.ts,
 * RS_OPENCLAW_TMP), one copy of it made for the run in the tier's temp folder (removed with it) and shared by the
 * files after the first, as the prepared one is. One copy of a prefix per run, not one per file.
 */
async function linkableFrom(prepared: string, dir: string): Promise<string> {
  const device = statSync(dir).dev;
  if (statSync(prepared).dev === device) return prepared;
  if (statSync(tmpdir()).dev !== device) return prepared; // not the tier's file system either: cp copies instead
  // Named by the prepared prefix's path: one per version and Node line, the team's shared ones apart.
  const runCopy = path.join(tmpdir(), 'openclaw-prepared', prepared.slice(1).replaceAll('/', '_'));
  return prefixMadeOnce(runCopy, (prefix) => copyTree(prepared, prefix));
}
