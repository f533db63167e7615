/**
 * Making a copy: everything goes into `versions/.tmp-<pid>-<random>` (the same folder as the copy, so the last step is
 * one rename(2) that a normal account may do on a sealed folder: the folder's parent does not change), the marker is
 * written last, every write bit is taken, then the rename. Two processes making the same copy both succeed: the one
 * that renames second finds a complete copy there and drops its own.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { fsyncDir, removeTree } from '../platform/fs.js';
import { sealTree } from '../store/seal.js';
import { dependencyClosure } from './closure.js';
import type { Installation } from './fingerprint.js';
import { TOOL_MARKER } from './home.js';

/** What the marker says of a copy. */
export interface ToolMarker {
  tool: 'release-switcher';
  version: string;
  key: string;
  /** The installation it was copied from. */
  source: string;
  /** The Node it was copied from. */
  nodeSource: string;
  /** Node is a shared build (libnode): it is named by path (a link), not copied. */
  nodeShared: boolean;
  builtAt: string;
}

/** The tool's own files of its package (package.json "files", what the CLI needs: no maps, docs or sources). */
const OWN_ENTRIES = [
  'package.json',
  'dist',
  'layout',
  'integrations/openclaw/dist',
  'integrations/openclaw/openclaw.plugin.json',
  'integrations/openclaw/package.json',
];

/** Copy a folder's files (not its node_modules: each package is placed on its own), regular files and folders only. */
async function copyTree(
  from: string,
  to: string,
  skip: (name: string, rel: string) => boolean,
  rel = '',
): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const name = path.join(rel, entry.name);
    if (skip(entry.name, name)) continue;
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    const stat = entry.isSymbolicLink() ? await fs.stat(source).catch(() => undefined) : undefined;
    if (entry.isDirectory() || stat?.isDirectory()) await copyTree(source, target, skip, name);
    else if (entry.isFile() || stat?.isFile()) await fs.copyFile(source, target, fs.constants.COPYFILE_FICLONE);
  }
}

async function copyPackage(installation: Installation, into: string): Promise<void> {
  for (const { from, to } of await dependencyClosure(installation.packageRoot)) {
    const target = path.join(into, to);
    if (to === '') {
      for (const entry of OWN_ENTRIES) {
        const source = path.join(from, entry);
        const stat = await fs.stat(source).catch(() => undefined);
        if (!stat) continue;
        await fs.mkdir(path.dirname(path.join(target, entry)), { recursive: true });
        if (stat.isDirectory()) await copyTree(source, path.join(target, entry), (name) => name.endsWith('.map'));
        else await fs.copyFile(source, path.join(target, entry));
      }
    } else {
      await copyTree(from, target, (name, rel) => rel === 'node_modules' || name === '.bin');
    }
  }
}

/** Make the copy of `installation` named `name` in `versions`; its folder (complete, sealed) whatever process made it. */
export async function buildCopy(options: {
  installation: Installation;
  versions: string;
  name: string;
  marker: ToolMarker;
}): Promise<string> {
  const { installation, versions, name, marker } = options;
  const final = path.join(versions, name);
  const tmp = path.join(versions, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.mkdir(tmp, { mode: 0o755 });
    await copyPackage(installation, path.join(tmp, 'package'));
    if (!marker.nodeShared) await fs.copyFile(installation.node, path.join(tmp, 'node'), fs.constants.COPYFILE_FICLONE);
    const markerFile = path.join(tmp, TOOL_MARKER);
    await fs.writeFile(markerFile, `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o444 });
    const handle = await fs.open(markerFile, 'r');
    await handle.sync().finally(() => handle.close());
    await sealTree(tmp);
    if (marker.nodeShared) {
      // A shared Node (libnode beside it) is named by its path: a link out of the copy, which sealTree would refuse.
      await fs.chmod(tmp, 0o755);
      await fs.symlink(installation.node, path.join(tmp, 'node'));
      await fs.chmod(tmp, 0o555);
    }
    await fs.rename(tmp, final).catch(async (error: unknown) => {
      if (!['EEXIST', 'ENOTEMPTY'].includes(errnoOf(error) ?? '') || !(await isComplete(final))) throw error;
      await removeTree(tmp); // another process made the same copy first: theirs is as good
    });
    await fsyncDir(versions);
    return final;
  } catch (error) {
    await removeTree(tmp).catch(() => undefined);
    throw error;
  }
}

/** Whether `dir` is a complete copy (its marker, written last, is there). */
export async function isComplete(dir: string): Promise<boolean> {
  return readMarker(dir).then(
    (m) => m !== undefined,
    () => false,
  );
}

export async function readMarker(dir: string): Promise<ToolMarker | undefined> {
  const text = await fs.readFile(path.join(dir, TOOL_MARKER), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = JSON.parse(text) as ToolMarker;
  return parsed.tool === 'release-switcher' && typeof parsed.version === 'string' ? parsed : undefined;
}
