/**
 * release-switcher's own pinned copy, side by side: where it lives. What the unit's boot-check, the auto-update timer and
 * a scheduled transaction's runner run is a sealed copy of the tool (its package, its production dependencies and the
 * Node that ran it) in a folder the tool owns, never the path npm put it at: `npm install -g`, an nvm upgrade that
 * removes the old Node or a new prefix move or rewrite that path under whatever runs it.
 *
 * ```
 * <home>/versions/<version>-<key>/package/   a sealed copy: package.json, dist/, layout/, node_modules/ (production)
 * <home>/versions/<version>-<key>/node       a copy of the Node that ran the CLI (a link to it when Node is shared)
 * <home>/versions/<version>-<key>/tool.json  the marker, written last: what the copy is, from where
 * <home>/current  -> versions/<…>            what units and the timer run; replaced only by rename(2)
 * <home>/previous -> versions/<…>            the copy before it
 * <home>/flip.json                           the journal of a flip in progress (finished or undone at next use)
 * <home>/.lock/                              held around every change of the links and removals
 * ```
 */
import os from 'node:os';
import path from 'node:path';

/** The environment variable that names the tool home. */
export const TOOL_HOME_ENV = 'RELEASE_SWITCHER_TOOL_HOME';
/** Root's tool home, beside the host's list of roots (/var/lib/release-switcher/roots.json). */
export const HOST_TOOL_HOME = '/var/lib/release-switcher/tool';
/** Bumped when the handshake's answer changes shape. */
export const HANDSHAKE_PROTOCOL = 1;
/** The marker of a complete copy, inside its version folder. */
export const TOOL_MARKER = 'tool.json';

export interface ToolLayout {
  home: string;
  versions: string;
  current: string;
  previous: string;
  journal: string;
  lock: string;
}

/**
 * The tool home of the account running with `env`: `$RELEASE_SWITCHER_TOOL_HOME`, else root's per-host folder, else
 * `${XDG_DATA_HOME:-~/.local/share}/release-switcher-tool`.
 */
export function toolHomeOf(env: NodeJS.ProcessEnv, uid: number = process.getuid?.() ?? -1): string {
  const named = env.RELEASE_SWITCHER_TOOL_HOME;
  if (named && path.isAbsolute(named)) return path.resolve(named);
  if (uid === 0) return HOST_TOOL_HOME;
  const data = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : undefined;
  return path.join(data ?? path.join(env.HOME || os.homedir(), '.local', 'share'), 'release-switcher-tool');
}

export function toolLayout(home: string): ToolLayout {
  return {
    home,
    versions: path.join(home, 'versions'),
    current: path.join(home, 'current'),
    previous: path.join(home, 'previous'),
    journal: path.join(home, 'flip.json'),
    lock: path.join(home, '.lock'),
  };
}

/** The command of a copy (or of the `current` link): its Node and its CLI. */
export interface ToolCommand {
  node: string;
  cli: string;
}

/** `dir`'s Node and CLI: `dir` is a version folder, or the `current` link (a unit names the link). */
export function commandIn(dir: string): ToolCommand {
  return { node: path.join(dir, 'node'), cli: path.join(dir, 'package', 'dist', 'cli', 'main.js') };
}

/** What a unit line names through `current`: the home it belongs to, or undefined when it names something else. */
export function homeOfLinkCommand(command: ToolCommand): string | undefined {
  const suffix = `${path.sep}current${path.sep}package${path.sep}dist${path.sep}cli${path.sep}main.js`;
  if (!command.cli.endsWith(suffix)) return undefined;
  const home = command.cli.slice(0, -suffix.length);
  return command.node === path.join(home, 'current', 'node') ? home : undefined;
}
