/**
 * `ensureTool`: the pinned copy of this installation in the account's tool home, made when missing (once per
 * installation: an unchanged one is found by its key in milliseconds), and `current` flipped to it unless `current`
 * names a newer version (a copy never flips back over a newer one: an older release-switcher still run somewhere
 * writes units that name the link, which then runs the newer). See home.ts for the layout.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { PACKAGE_ROOT, ownVersion } from '../platform/self.js';
import { type ToolMarker, buildCopy, isComplete, readMarker } from './copy.js';
import { installationKey } from './fingerprint.js';
import { flipTo, linkTarget, settleFlip, withToolLock } from './flip.js';
import { removeUnused } from './gc.js';
import { type ToolCommand, type ToolLayout, commandIn, toolHomeOf, toolLayout } from './home.js';

export {
  HANDSHAKE_PROTOCOL,
  TOOL_HOME_ENV,
  type ToolCommand,
  commandIn,
  homeOfLinkCommand,
  toolHomeOf,
  toolLayout,
} from './home.js';
export { readMarker, type ToolMarker } from './copy.js';
export { linkTarget } from './flip.js';

export interface PinnedTool {
  home: string;
  version: string;
  key: string;
  /** This installation's copy: what a runner runs (it keeps its version while `current` flips). */
  versioned: ToolCommand & { dir: string };
  /** Through `current`: what units and the timer run, so a later flip moves them all. */
  link: ToolCommand;
  /** The version `current` names now (this copy's, or a newer one's). */
  currentVersion: string;
  /** Node is a shared build, named by its path instead of copied (see the marker). */
  nodeShared: boolean;
  /** Copies removed after the flip. */
  removed: string[];
  /** Whether this call made the copy. */
  built: boolean;
}

export interface EnsureToolOptions {
  env: NodeJS.ProcessEnv;
  /** The Node to pin. @default process.execPath */
  node?: string;
  /** The tool home. @default toolHomeOf(env) */
  home?: string;
}

/** Made 0755 and the account's; an existing one that is another account's, or writable by others, is refused. */
async function prepareHome(layout: ToolLayout): Promise<void> {
  await fsp.mkdir(layout.versions, { recursive: true, mode: 0o755 });
  const uid = process.getuid?.();
  for (const dir of [layout.home, layout.versions]) {
    const stat = await fsp.stat(dir);
    const why =
      uid !== undefined && stat.uid !== uid
        ? `it is owned by uid ${stat.uid}, not ${uid}`
        : (stat.mode & 0o022) !== 0
          ? `it is writable by others (mode ${(stat.mode & 0o777).toString(8)})`
          : undefined;
    if (why)
      throw new ReleaseSwitcherError('PERMISSION_DENIED', `The tool home ${dir} is not this account's alone: ${why}.`, {
        hint: `What it holds runs in your units: keep it yours (chmod go-w ${dir}), or name another with RELEASE_SWITCHER_TOOL_HOME.`,
        details: { path: dir, why },
      });
  }
}

export async function ensureTool(options: EnsureToolOptions): Promise<PinnedTool> {
  const layout = toolLayout(options.home ?? toolHomeOf(options.env));
  const installation = {
    packageRoot: await fsp.realpath(PACKAGE_ROOT),
    node: await fsp.realpath(options.node ?? process.execPath),
  };
  const version = await ownVersion();
  const key = await installationKey(installation);
  const name = `${version}-${key}`;
  const dir = path.join(layout.versions, name);
  await prepareHome(layout).catch((error: unknown) => {
    if (!['EACCES', 'EPERM', 'EROFS'].includes(errnoOf(error) ?? '')) throw error;
    throw new ReleaseSwitcherError(
      'PERMISSION_DENIED',
      `Cannot make the tool home ${layout.home} (${errnoOf(error)}).`,
      {
        hint: 'Name a folder of your own with RELEASE_SWITCHER_TOOL_HOME, or make this one yours.',
        cause: error,
      },
    );
  });
  const nodeShared = Boolean((process.config.variables as { node_shared?: boolean }).node_shared);
  const built = !(await isComplete(dir));
  if (built) {
    const marker: ToolMarker = {
      tool: 'release-switcher',
      version,
      key,
      source: installation.packageRoot,
      nodeSource: installation.node,
      nodeShared,
      builtAt: new Date().toISOString(),
    };
    await buildCopy({ installation, versions: layout.versions, name, marker });
  }
  const { currentVersion, removed } = await withToolLock(layout, async () => {
    await settleFlip(layout);
    const current = await linkTarget(layout.current);
    const theirs =
      current === null ? undefined : await readMarker(path.join(layout.versions, current)).catch(() => undefined);
    const newer = theirs !== undefined && semver.valid(theirs.version) && semver.gt(theirs.version, version);
    if (!newer) await flipTo(layout, name);
    return { currentVersion: newer ? theirs.version : version, removed: await removeUnused(layout, name) };
  });
  return {
    home: layout.home,
    version,
    key,
    versioned: { ...commandIn(dir), dir },
    link: commandIn(layout.current),
    currentVersion,
    nodeShared,
    removed,
    built,
  };
}

/** The commands through `current` of the tool home of `env`, without making anything (what a printed unit names). */
export function linkCommandOf(env: NodeJS.ProcessEnv): ToolCommand {
  return commandIn(toolLayout(toolHomeOf(env)).current);
}
