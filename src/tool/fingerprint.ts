/**
 * A cheap fingerprint of this installation, so an unchanged one reuses its copy in milliseconds: package.json's
 * content, the stats of every file under dist/ (an in-place `npm install -g` rewrites them: new inodes, sizes, times)
 * and the identity of the Node binary. Not a content hash: a copy is made once, then found by this key.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface Installation {
  /** The package folder (its real path). */
  packageRoot: string;
  /** The Node binary to copy (its real path). */
  node: string;
}

async function statsUnder(dir: string, rel = ''): Promise<string[]> {
  const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const name = path.join(rel, entry.name);
    if (entry.isDirectory()) out.push(...(await statsUnder(dir, name)));
    else if (entry.isFile()) out.push(`${name}:${stamp(await fs.stat(path.join(dir, name)))}`);
  }
  return out;
}

const stamp = (s: { ino: number; size: number; mtimeMs: number; ctimeMs: number }) =>
  `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/** The key of a copy of `installation`: 12 hex digits. */
export async function installationKey(installation: Installation): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await fs.readFile(path.join(installation.packageRoot, 'package.json')));
  hash.update(`\0${installation.packageRoot}\0`);
  for (const line of await statsUnder(path.join(installation.packageRoot, 'dist'))) hash.update(`${line}\n`);
  hash.update(`node\0${installation.node}\0${stamp(await fs.stat(installation.node))}`);
  return hash.digest('hex').slice(0, 12);
}
