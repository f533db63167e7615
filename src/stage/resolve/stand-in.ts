/**
 * A tarball (a file or a URL) resolved the cheap way. Arborist reads the package.json of a tarball
 * spec by extracting the whole tarball into a temp folder (pacote's FileFetcher#manifest): for
 * openclaw's (12,800 files) seconds of writes on a core the unpack of the same tarball needs. What
 * arborist builds the tree from is that package.json alone (its dependencies, optional, peer and
 * bundled lists; a bundle's or a shrinkwrap's content is read only for a complete tree, never for an
 * install), so it is given a stand-in tarball holding just the package.json pacote already read. The
 * tree's root then says where the package really comes from (`withRealRoot`): nothing downstream sees
 * the stand-in. A shrinkwrap inside the real tarball is found once it is unpacked (fast.ts's
 * fallbackReason) and staging falls back to npm's full install, as before.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ResolvedTree } from './resolve-tree.js';

/** Write `<dir>/stand-in.tgz` holding `package/package.json` = `manifest`; its path. */
export async function writeStandIn(dir: string, manifest: Record<string, unknown>): Promise<string> {
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const file = path.join(dir, 'stand-in.tgz');
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    file,
    gzipSync(Buffer.concat([ustarHeader('package/package.json', body.length), body, padding, Buffer.alloc(1024)])),
  );
  return file;
}

/** The tree with its root as the real tarball (where it lies, its integrity), not the stand-in. */
export function withRealRoot(tree: ResolvedTree, real: { resolved: string; integrity: string | null }): ResolvedTree {
  const resolved = /^https?:/.test(real.resolved) ? real.resolved : `file:${real.resolved}`;
  return { ...tree, root: { ...tree.root, resolved, integrity: real.integrity } };
}

/** A POSIX ustar header for a regular file (mode 0644, owner 0, mtime 0). */
function ustarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const put = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (value: number, digits: number) => `${value.toString(8).padStart(digits, '0')}\0`;
  put(0, 100, name);
  put(100, 8, octal(0o644, 7));
  put(108, 8, octal(0, 7));
  put(116, 8, octal(0, 7));
  put(124, 12, octal(size, 11));
  put(136, 12, octal(0, 11));
  put(148, 8, '        ');
  put(156, 1, '0');
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}
