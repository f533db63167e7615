// Hand-made hostile or broken tarballs. Headers are encoded one by one with node-tar's `Header`, because its
// packer sanitizes exactly what these need: `..` paths, absolute link targets, device entries, setuid bits.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header, type HeaderData } from 'tar';

const BLOCK = 512;
// npm pack's fixed mtime, so the bytes are the same on every run.
const MTIME = new Date('1985-10-26T08:15:00Z');

export interface TarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'CharacterDevice';
  /** @default 0o644 for files, 0o755 otherwise */
  mode?: number;
  content?: string;
  linkpath?: string;
  devmaj?: number;
  devmin?: number;
}

/** Encodes entries as-is (no path checks) into a gzipped tar. */
export function encodeTarball(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'File';
    const body = Buffer.from(entry.content ?? '');
    const data: HeaderData = {
      path: entry.path,
      type,
      mode: entry.mode ?? (type === 'File' ? 0o644 : 0o755),
      size: type === 'File' ? body.length : 0,
      linkpath: entry.linkpath,
      devmaj: entry.devmaj,
      devmin: entry.devmin,
      uid: 0,
      gid: 0,
      mtime: MTIME,
    };
    const header = Buffer.alloc(BLOCK);
    new Header(data).encode(header);
    blocks.push(header);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
    }
  }
  blocks.push(Buffer.alloc(2 * BLOCK)); // end-of-archive marker
  return gzipSync(Buffer.concat(blocks));
}

function manifest(name: string): TarEntry {
  return { path: 'package/package.json', content: `${JSON.stringify({ name, version: '1.0.0' }, null, 2)}\n` };
}

/** Every bad tarball except `bad-truncated`, which needs a real one to cut. Each fault is the only one. */
const BAD: Record<string, TarEntry[]> = {
  'bad-dotdot': [manifest('bad-dotdot'), { path: 'package/../escape.txt', content: 'escaped\n' }],
  'bad-abs-symlink': [
    manifest('bad-abs-symlink'),
    { path: 'package/link', type: 'SymbolicLink', linkpath: '/etc/passwd' },
  ],
  'bad-escape-symlink': [
    manifest('bad-escape-symlink'),
    { path: 'package/lib/', type: 'Directory' },
    { path: 'package/lib/link', type: 'SymbolicLink', linkpath: '../../../outside' },
  ],
  'bad-no-package-json': [{ path: 'package/index.js', content: 'module.exports = 1;\n' }],
  'bad-invalid-package-json': [{ path: 'package/package.json', content: '{ not json' }],
  // Header encodes devmaj/devmin, so a char device (1,3 = /dev/null) is representable.
  'bad-device': [
    manifest('bad-device'),
    { path: 'package/null', type: 'CharacterDevice', mode: 0o666, devmaj: 1, devmin: 3 },
  ],
  'bad-setuid': [
    manifest('bad-setuid'),
    { path: 'package/bin/tool.js', mode: 0o4755, content: '#!/usr/bin/env node\nconsole.log("root?");\n' },
  ],
};

/**
 * Writes `<name>.tgz` for every bad case into `dir`; `bad-truncated` is `validTarball` cut to half its bytes.
 * Returns name → absolute path.
 */
export async function writeBadTarballs(dir: string, validTarball: string): Promise<Record<string, string>> {
  const written: Record<string, string> = {};
  for (const [name, entries] of Object.entries(BAD)) {
    written[name] = join(dir, `${name}.tgz`);
    await writeFile(written[name], encodeTarball(entries));
  }
  const whole = await readFile(validTarball);
  written['bad-truncated'] = join(dir, 'bad-truncated.tgz');
  await writeFile(written['bad-truncated'], whole.subarray(0, Math.floor(whole.length / 2)));
  return written;
}
