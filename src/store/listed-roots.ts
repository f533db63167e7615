/**
 * The roots the host's lists name (store/roots-registry.ts), each judged before `--all` runs it
 * (store/root-trust.ts): ready, missing, unreadable, or untrusted (never run).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf, isReleaseSwitcherError } from '../model/errors.js';
import { defaultEnv } from '../model/runtime.js';
import type { PathIdentity } from '../platform/trust-rules.js';
import { fileTrustError, judgeRoot, trustError } from './root-trust.js';
import {
  type RootEntry,
  type RootsFiles,
  readRootsFile,
  recordIdentities,
  rootsFileFor,
  rootsFilesOf,
} from './roots-registry.js';

export interface RootsOptions {
  /** Where the two lists live. @default from `env`: this account's under XDG_STATE_HOME, the host's under /var/lib */
  files?: RootsFiles;
  /** The environment the lists' places are read from. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface RegisteredRoot {
  root: string;
  package: string;
  /** The list that names it (the first, when both do). */
  file: string;
  /**
   * `ready`: its config.json is there and readable; `missing`: no root there any more; `unreadable`: not ours to read;
   * `untrusted`: not the folder that was listed, or one another account owns or may write or replace (never run).
   */
  state: 'ready' | 'missing' | 'unreadable' | 'untrusted';
  /** Whether this account edits the list that names it (its own; the host's only for root): it can `forget` it. */
  editable: boolean;
  /** Why it is untrusted: the path, its owner, the fix (`code` PERMISSION_DENIED). */
  refusal?: { code: string; message: string; hint?: string; details?: Record<string, unknown> };
}

export interface RegisteredRoots {
  roots: RegisteredRoot[];
  /** A list that could not be read, or that another account could write (none of its roots is run). */
  unreadableFiles: Array<{ file: string; message: string; code?: string; hint?: string }>;
}

export const filesOf = (options: RootsOptions): RootsFiles =>
  options.files ?? rootsFilesOf(options.env ?? defaultEnv());

/**
 * The roots this account's list and the host's list name, own first, each once, with whether each can be run. A list
 * another account could write is not read; a root is run only while trusted (store/root-trust.ts): still the folder
 * listed, the caller's or root's, and writable or replaceable by no other account. An entry listed without its
 * identity (an older release-switcher's) gets it at its first trusted use, where this account may write its list.
 */
export async function registeredRoots(options: RootsOptions = {}): Promise<RegisteredRoots> {
  const files = filesOf(options);
  const roots: RegisteredRoot[] = [];
  const unreadableFiles: RegisteredRoots['unreadableFiles'] = [];
  const writable = rootsFileFor(files) === files.system ? [files.own, files.system] : [files.own];
  for (const file of [...new Set([files.own, files.system])]) {
    const distrusted = fileTrustError(file);
    if (distrusted) {
      unreadableFiles.push({ file, code: distrusted.code, message: distrusted.message, hint: distrusted.hint ?? '' });
      continue;
    }
    const entries = await readRootsFile(file).catch((error: unknown) => {
      unreadableFiles.push({ file, message: (error as Error).message });
      return [];
    });
    const found = new Map<string, PathIdentity>();
    for (const entry of entries) {
      if (roots.some((r) => r.root === entry.root)) continue;
      const verdict = await judgeListed(entry, file);
      roots.push({ ...verdict.root, editable: writable.includes(file) });
      if (verdict.identity && entry.identity === undefined) found.set(entry.root, verdict.identity);
    }
    // Best effort: the list is rewritten under its lock; one this account may not write stays as it was.
    if (writable.includes(file)) await recordIdentities(file, found).catch(() => undefined);
  }
  return { roots, unreadableFiles };
}

async function judgeListed(
  entry: RootEntry,
  file: string,
): Promise<{ root: Omit<RegisteredRoot, 'editable'>; identity?: PathIdentity | undefined }> {
  const base = { root: entry.root, package: entry.package, file };
  let verdict: ReturnType<typeof judgeRoot>;
  try {
    verdict = judgeRoot(entry.root, { purpose: 'read', recorded: entry.identity });
  } catch (error) {
    if (isReleaseSwitcherError(error) && error.code === 'PERMISSION_DENIED')
      return { root: { ...base, state: 'unreadable' } };
    throw error;
  }
  if (!verdict.identity) return { root: { ...base, state: 'missing' } };
  const error = trustError(`the listed root ${entry.root}`, verdict.problems);
  if (error) {
    const refusal = {
      code: error.code,
      message: error.message,
      hint: `release-switcher forget ${entry.root} takes it off the list; or: ${error.hint}`,
      ...(error.details ? { details: error.details } : {}),
    };
    return { root: { ...base, state: 'untrusted', refusal } };
  }
  try {
    await fs.access(path.join(entry.root, 'config.json'), fs.constants.R_OK);
    return { root: { ...base, state: 'ready' }, identity: verdict.identity };
  } catch (error) {
    const gone = errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR';
    return { root: { ...base, state: gone ? 'missing' : 'unreadable' } };
  }
}
