/**
 * What a command that runs as root for another account (a unit's `ExecStartPre=+…` boot-check) may take from that
 * account: nothing. A `+` command gets the unit's environment: a `PATH` with the account's `~/.local/bin` first
 * (OpenClaw's Ansible role), a `HOME` that is the account's, `NODE_OPTIONS` or `LD_PRELOAD` naming the account's files.
 * Root then looks commands up in the account's folders, or Node loads the account's code before ours runs. So a
 * privileged command runs with a fixed PATH (sudo's `secure_path`, systemd's own) and an environment of our choosing,
 * and runs files only where no account but root may write (their folders up to `/` as well).
 */
import fs from 'node:fs';
import path from 'node:path';
import { componentProblem } from './trust-rules.js';

/** The PATH a privileged command runs with: sudo's default `secure_path`, and where systemd looks up a bare name. */
export const SECURE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment the privileged boot-check starts with (`env -i NAME=VALUE…` in its unit line): the fixed PATH, and
 * Node's compile cache off (its folder would be the temp dir of the machine, outside the unit's PrivateTmp, where any
 * account may have made it first: V8 would load code another account wrote).
 */
export const PRIVILEGED_ENV: Readonly<Record<string, string>> = {
  PATH: SECURE_PATH,
  NODE_DISABLE_COMPILE_CACHE: '1',
};

/** Where `env` is on every Linux that has systemd (coreutils; /bin/env is the same file on a merged /usr). */
export const ENV_COMMAND = '/usr/bin/env';

/**
 * Variables a privileged process keeps from what it was started with: the locale and the time zone (read as data).
 * Everything else goes: NODE_OPTIONS, NODE_PATH, LD_*, HOME, XDG_*, npm_config_*, … (an account's choice, all).
 */
const KEPT = /^(LANG|LC_[A-Z]+|TZ|NO_COLOR)$/;

/**
 * The environment a privileged process runs its children with, from the one it was given: the fixed PATH, the
 * compile cache off, the locale kept; nothing else of `env`, but `XDG_RUNTIME_DIR` when it is a folder only root owns
 * and may write (root's own user manager, whose units the boot-check asks about: an account's folder, where it could
 * answer in the manager's place, is never kept). The caller decides where it applies.
 */
export function privilegedEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) if (KEPT.test(name) && value !== undefined) out[name] = value;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && rootsAlone(runtime)) out.XDG_RUNTIME_DIR = runtime;
  return { ...out, ...PRIVILEGED_ENV };
}

/** A real folder (no link) owned by root that no group or other may write. */
function rootsAlone(dir: string): boolean {
  if (!path.isAbsolute(dir)) return false;
  try {
    const stat = fs.lstatSync(dir);
    return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Replace `env` in place by privilegedEnvironment(env): for this process's own `process.env`, which libraries and
 * every child without an explicit environment read. Returns what was removed, by name (for the log).
 */
export function scrubEnvironment(env: NodeJS.ProcessEnv): string[] {
  const kept = privilegedEnvironment(env);
  const removed = Object.keys(env).filter((name) => !(name in kept));
  for (const name of Object.keys(env)) if (!(name in kept)) delete env[name];
  Object.assign(env, kept);
  return removed.sort();
}

/** `name` on SECURE_PATH as an absolute path (the first that exists and runs), or undefined. */
export function onSecurePath(name: string): string | undefined {
  if (path.isAbsolute(name)) return name;
  for (const dir of SECURE_PATH.split(':')) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not there: the next folder
    }
  }
  return undefined;
}

/**
 * Why root must not run (or read as its own) `file`: a part of it, from `/` down, that an account other than root may
 * change (owned by another uid, or writable by group or others without the sticky bit of /tmp); undefined when only
 * root can. Links are followed as exec follows them: the file it ends at is checked, and the folders of each step.
 */
export function untrustedByRoot(file: string): string | undefined {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (error) {
    return `${file} cannot be resolved (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  const parts = [real];
  for (let at = path.dirname(real); ; at = path.dirname(at)) {
    parts.push(at);
    if (at === path.dirname(at)) break;
  }
  for (const part of parts) {
    const why = rootProblem(part, part === real ? 'target' : 'parent');
    if (why) return `${part} ${why}`;
  }
  return real === path.resolve(file) ? undefined : untrustedLinks(file, real);
}

/** The folders of a link's own path must be root's too: who may replace the link decides what it names. */
function untrustedLinks(file: string, real: string): string | undefined {
  for (let at = path.dirname(path.resolve(file)); ; at = path.dirname(at)) {
    const why = rootProblem(at, 'parent');
    if (why) return `${at} (on the way to ${real}) ${why}`;
    if (at === path.dirname(at)) return undefined;
  }
}

/**
 * The one rule (trust-rules.ts) for root alone: `at` (stat, as exec follows it) root's, and writable by no other
 * account (no group is trusted: any group write bit refuses); a folder on the way may be sticky (/tmp). In words.
 */
function rootProblem(at: string, role: 'target' | 'parent'): string | undefined {
  const stat = fs.statSync(at);
  const mode = stat.mode & 0o7777;
  const kind = stat.isDirectory() ? 'dir' : 'file';
  const reason = componentProblem({ kind, uid: stat.uid, mode, groupTrusted: false, role }, [0]);
  if (reason === 'owner' || reason === 'parent-owner') return `is owned by uid ${stat.uid}, not root`;
  if (reason)
    return `is writable by ${mode & 0o002 ? 'every account' : `group ${stat.gid}`} (mode ${mode.toString(8)})`;
  return undefined;
}
