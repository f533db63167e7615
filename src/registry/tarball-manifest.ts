/**
 * The manifest of a tarball, the cheap way. pacote reads a tarball's package.json by extracting the whole
 * tarball into a temp folder (FileFetcher#manifest, which RemoteFetcher borrows for a URL): for openclaw's
 * 95 MB, 12,800-file tarball 11 s here from a file and 13-14.5 s from a URL (most of it creating the files)
 * before staging even starts, which then unpacks it once more. Here one read of the tarball hashes it
 * (sha512, the integrity pacote gives it) and lists it, keeping only the package.json (`<top>/package.json`,
 * the last such entry, as an extraction would leave it); pacote then reads that package.json from a folder of
 * its own, normalised exactly as from the extracted tarball (the same reader; its only step that looks at
 * other files, `directories.bin`, is left to pacote's own way).
 * Anything unusual (no package.json, one that is not plain JSON, a tarball the listing cannot read)
 * returns undefined: the caller takes pacote's own way, which decides and reports as it always has.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import './lazy-pacote.js';
import pacote from 'pacote';
import type { PacoteManifest, PacoteOptions } from '../model/npm-types.js';

/** The manifest pacote.manifest(`file:<file>`) gives, or undefined when only pacote's own way can tell. */
export async function fileTarballManifest(
  file: string,
  from: string,
  opts: PacoteOptions,
): Promise<PacoteManifest | undefined> {
  const read = await listTarball(createReadStream(file)).catch(() => undefined);
  return read && (await manifestOf(read, { _resolved: file, _from: from }, opts));
}

/**
 * The manifest pacote.manifest(`<url>`) gives, or undefined when only pacote's own way can tell. The tarball is
 * fetched once, by pacote's own fetcher for the URL (the same request, headers, auth, retries and cache): it lands
 * in npm's cache as pacote's way leaves it, where staging then takes it from (fetch.ts downloadTarball, by this
 * integrity). A fetch that fails is thrown, as pacote's way would throw it.
 */
export async function remoteTarballManifest(spec: string, opts: PacoteOptions): Promise<PacoteManifest | undefined> {
  const fetcher = new pacote.RemoteFetcher(spec, opts);
  // The handler may be called again (pacote retries a fetch whose bytes failed their integrity).
  const read = await fetcher.tarballStream((stream) => listTarball(stream));
  return await manifestOf(read, { _resolved: fetcher.resolved, _from: fetcher.from }, opts);
}

/** pacote's manifest of a listed tarball: its package.json normalised by pacote, and what the fetcher sets of its own. */
async function manifestOf(
  read: Listed,
  where: { _resolved: string; _from: string },
  opts: PacoteOptions,
): Promise<PacoteManifest | undefined> {
  if (!read.packageJson) return undefined;
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
    return { ...manifest, _integrity: read.integrity, ...where };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

interface Listed {
  integrity: string;
  /** Undefined when the tarball has none, or the listing could not read it (every byte is hashed all the same). */
  packageJson: Buffer | undefined;
}

/**
 * One read of a tarball's bytes: its sha512 integrity and its `<top>/package.json` (the last one), if any. Every
 * byte is read and hashed even once the listing fails (a fetch's bytes then still reach npm's cache whole); the
 * stream's own error is thrown.
 */
async function listTarball(stream: NodeJS.ReadableStream): Promise<Listed> {
  const hash = createHash('sha512');
  let packageJson: Buffer | undefined;
  let unreadable = false;
  // Loaded here, for a tarball only: every command that fetches (check, install, update) loads this module, and
  // node-tar is one of the modules lazy-pacote.ts keeps off that path.
  const { Parser } = await import('tar'); // lazy: start-up of every fetching command (above)
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
    let ended = false;
    // A listing that fails (at any byte, or at the end: a truncated tarball) settles once every byte is read.
    parser.on('error', () => {
      unreadable = true;
      if (ended) resolve();
    });
    parser.on('end', () => resolve());
    stream.on('error', reject);
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      if (!unreadable) parser.write(chunk);
    });
    stream.on('end', () => {
      ended = true;
      if (unreadable) resolve();
      else parser.end();
    });
  });
  return { integrity: `sha512-${hash.digest('base64')}`, packageJson: unreadable ? undefined : packageJson };
}
