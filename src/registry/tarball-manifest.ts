/**
 * The manifest of a local tarball, the cheap way. pacote reads a tarball file's package.json by
 * extracting the whole tarball into a temp folder (FileFetcher#manifest): for openclaw's 95 MB,
 * 12,800-file tarball 11 s here before staging even starts, which then unpacks it once more. Here one
 * read of the file hashes it (sha512, the integrity pacote gives it) and lists it, keeping only the
 * package.json (`<top>/package.json`, the last such entry, as an extraction would leave it); pacote then
 * reads that package.json from a folder of its own, normalised exactly as from the extracted tarball
 * (the same reader; its only step that looks at other files, `directories.bin`, is left to pacote's own way).
 * Anything unusual (no package.json, one that is not plain JSON, a tarball the listing cannot read)
 * returns undefined: the caller takes pacote's own way, which decides and reports as it always has.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pacote from 'pacote';
import type { PacoteManifest, PacoteOptions } from '../model/npm-types.js';

/** The manifest pacote.manifest(`file:<file>`) gives, or undefined when only pacote's own way can tell. */
export async function fileTarballManifest(
  file: string,
  from: string,
  opts: PacoteOptions,
): Promise<PacoteManifest | undefined> {
  const read = await readTarball(file).catch(() => undefined);
  if (!read?.packageJson) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(read.packageJson.toString('utf8'));
  } catch {
    return undefined;
  }
  const plain = data !== null && typeof data === 'object' && !Array.isArray(data);
  if (!plain || (data as { directories?: { bin?: unknown } }).directories?.bin !== undefined) return undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rs-manifest-'));
  try {
    await fs.writeFile(path.join(dir, 'package.json'), read.packageJson);
    const manifest = (await pacote.manifest(`file:${dir}`, { ...opts, where: dir })) as PacoteManifest;
    // What FileFetcher sets of its own: the tarball's integrity, where it lies, the spec it came from.
    return { ...manifest, _integrity: read.integrity, _resolved: file, _from: from };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** One read of `file`: its sha512 integrity and the bytes of its `<top>/package.json` (the last one), if any. */
async function readTarball(file: string): Promise<{ integrity: string; packageJson: Buffer | undefined }> {
  const hash = createHash('sha512');
  let packageJson: Buffer | undefined;
  // Loaded here, for a tarball file only: every command that fetches (check, install, update) loads this module, and
  // node-tar is one of the modules lazy-pacote.ts keeps off that path.
  const { Parser } = await import('tar');
  const parser = new Parser({
    // Errors, not warnings: a tarball the listing cannot read is left to pacote's own way.
    strict: true,
    onReadEntry: (entry) => {
      const rel = entry.path.split('/').slice(1).join('/');
      if (rel !== 'package.json' || entry.type !== 'File') {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        packageJson = Buffer.concat(chunks);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    parser.on('error', reject);
    parser.on('end', () => resolve());
    stream.on('data', (chunk) => {
      hash.update(chunk as Buffer);
      parser.write(chunk as Buffer);
    });
    stream.on('end', () => parser.end());
  });
  return { integrity: `sha512-${hash.digest('base64')}`, packageJson };
}
