/**
 * A unit that runs the package's command instead of `node <entry>`: `ExecStart=openclaw gateway` (OpenClaw's Ansible
 * role), `ExecStart=~/.openclaw/bin/openclaw gateway` (the wrapper of OpenClaw's install-cli.sh), `$PNPM_HOME/openclaw`
 * (pnpm's shim), `<prefix>/bin/openclaw` (npm -g's link). Read without running it: which file of the package it ends
 * in and with which Node, so the drop-in runs the same file of `current` with the same Node and every argument the
 * user gave (the port among them), not the preset's defaults.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isExecutable, lookUp } from '../platform/fs.js';
import { packageFileOf } from './existing-unit.js';

/** Where systemd 252 looks up a bare command name (its compiled-in path; a unit's Environment=PATH does not apply). */
export const SYSTEMD_EXEC_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export interface CliCommand {
  /** The command as the unit names it. */
  command: string;
  /** The file it resolves to (a link, a shim, a wrapper). */
  file: string;
  /** The file inside the package it runs, e.g. `openclaw.mjs` or `dist/entry.js`. */
  entry: string;
  /** The installed package folder it runs from (the part of the path before `entry`). */
  pkgDir: string;
  /** The Node it runs with, when the command names one that exists; null: not known (a `node` looked up at run time and not found). */
  node: string | null;
  /** The unit's arguments after the command, kept as they are. */
  args: string[];
}

/**
 * The Node of a script's first line or `exec` line: an absolute path that runs, else `node` looked up on `searchPath`
 * (what `#!/usr/bin/env node` and `exec node` do; the unit's own PATH, else systemd's).
 */
async function nodeNamed(word: string, searchPath: readonly string[]): Promise<string | null> {
  if (path.isAbsolute(word)) return (await isExecutable(word)) ? word : null;
  if (word === 'node') return (await lookUp('node', searchPath)) ?? null;
  return null;
}

/**
 * What a shell wrapper or shim `exec`s: its Node and the package file. pnpm's shims name the file relative to their own
 * folder (`"$basedir_abs"/'../global/…/openclaw.mjs'`) and try `$basedir/node` before `node`: the exec lines are read
 * with `$basedir` as the shim's folder, quotes dropped, and the first whose Node exists wins (install-cli.sh's wrapper
 * has one line, with an absolute Node).
 */
async function wrapperTarget(
  real: string,
  text: string,
  where: { pkg: string; root?: string | undefined },
  searchPath: readonly string[],
): Promise<{ node: string | null; script: string } | undefined> {
  const basedir = path.dirname(real);
  const expand = (word: string) => {
    const plain = word.replace(/\$\{?basedir(?:_abs)?\}?/g, basedir).replace(/["']/g, '');
    return path.isAbsolute(plain) ? path.resolve(plain) : plain;
  };
  const found: { node: string | null; script: string }[] = [];
  for (const line of text.split('\n').filter((l) => /^\s*exec\s/.test(l))) {
    const words = line.trim().split(/\s+/).slice(1).map(expand);
    const at = words.findIndex((word) => path.isAbsolute(word) && (packageFileOf(word, where)?.entry ?? '') !== '');
    if (at >= 1) found.push({ node: await nodeNamed(words[0]!, searchPath), script: words[at]! });
  }
  return found.find((f) => f.node !== null) ?? found[0];
}

/**
 * The package command a unit runs, or null when its ExecStart is not one (a Node command is nodeCommandOf's; another
 * program is left alone). `bins`: the package's commands (package.json `bin`); `unitPath`: the unit's Environment=PATH.
 */
export async function cliCommandOf(
  words: readonly string[] | null,
  options: {
    pkg: string;
    bins: Record<string, string>;
    unitPath?: string | undefined;
    /** Where a bare command is looked up. @default SYSTEMD_EXEC_PATH */
    execSearchPath?: readonly string[];
    /** The root: a command inside its `current` (or a release of it) is a file of the package too. @default none */
    root?: string | undefined;
  },
): Promise<CliCommand | null> {
  if (!words || words.length === 0) return null;
  const command = words[0]!;
  const execSearchPath = options.execSearchPath ?? SYSTEMD_EXEC_PATH;
  // The Node a script names is looked up on the unit's PATH (what the service's `env node` sees), else systemd's.
  const searchPath = options.unitPath ? options.unitPath.split(':').filter((d) => path.isAbsolute(d)) : execSearchPath;
  const file = path.isAbsolute(command) ? command : await lookUp(command, execSearchPath);
  if (!file) return null;
  const real = await fs.realpath(file).catch(() => undefined);
  if (!real) return null;
  const args = words.slice(1);
  // A link into the package (npm -g's `<prefix>/bin/<name>`, a hand-made link): its first line names the Node.
  const where = { pkg: options.pkg, root: options.root };
  // A file of the root's `current` is named as the unit names it: its real path is one release, which changes.
  const linked = [real, file].map((f) => packageFileOf(f, where)).find((found) => found && found.entry !== '');
  const text = await fs.readFile(real, 'utf8').catch(() => '');
  if (linked) {
    const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
    const interpreter = shebang && path.basename(shebang[1]!) === 'env' ? shebang[2] : shebang?.[1];
    const node = interpreter ? await nodeNamed(interpreter, searchPath) : null;
    return { command, file, entry: linked.entry, pkgDir: linked.pkgDir, node, args };
  }
  if (!Object.hasOwn(options.bins, path.basename(command)) || !text.startsWith('#!')) return null;
  const target = await wrapperTarget(real, text, where, searchPath);
  if (!target) return null;
  const found = packageFileOf(target.script, where)!;
  return { command, file, entry: path.posix.normalize(found.entry), pkgDir: found.pkgDir, node: target.node, args };
}
