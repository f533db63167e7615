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
    blocks.push(plainHeader(data) ?? encodeHeader(data));
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
    }
  }
  blocks.push(Buffer.alloc(2 * BLOCK)); // end-of-archive marker
  return gzipSync(Buffer.concat(blocks));
}

function encodeHeader(data: HeaderData): Buffer {
  const header = Buffer.alloc(BLOCK);
  new Header(data).encode(header);
  return header;
}

/**
 * The header of an empty file with a short ASCII path, made from one encoded by `Header` with only its name and
 * checksum written again: an entry bomb's 150,000 of them cost a tenth of a second instead of seconds of `Header`.
 * The first one made is compared with `Header`'s own: bytes that differ throw. Undefined for any other entry.
 */
const plainTemplates = new Map<number, Buffer>();
function plainHeader(data: HeaderData): Buffer | undefined {
  const path = data.path!;
  if (data.type !== 'File' || data.size !== 0 || data.linkpath || data.devmaj !== undefined) return undefined;
  if (path.length >= 100 || !/^[\x20-\x7e]+$/.test(path)) return undefined;
  let template = plainTemplates.get(data.mode!);
  const first = !template;
  template ??= encodeHeader({ ...data, path: 'x' });
  plainTemplates.set(data.mode!, template);
  const header = Buffer.from(template);
  header.fill(0, 0, 100);
  header.write(path, 0, 100, 'ascii');
  // ustar's checksum: the header's bytes summed with the checksum field itself as eight spaces, in octal.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')} \0`, 148, 8, 'ascii'); // as node-tar writes it
  if (first && !header.equals(encodeHeader(data)))
    throw new Error(`bad-tarballs: the plain header of ${path} differs from node-tar's`);
  return header;
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

/** One header block (plus body) with any type flag, for the cases node-tar's encoder will not write. */
export interface RawBlock {
  /** The type flag byte: '0' file, '2' symlink, '5' dir, 'x' PAX, 'g' global PAX, 'L' GNU long name, 'S' sparse, … */
  flag: string;
  path: string;
  body?: string | Buffer;
  mode?: number;
  linkpath?: string;
}

/** PAX records `<len> <key>=<value>\n`, the length counting itself. */
export function paxBody(records: Record<string, string>): string {
  let out = '';
  for (const [key, value] of Object.entries(records)) {
    const rest = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
    out += `${len}${rest}`;
  }
  return out;
}

function rawHeader(block: RawBlock, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  new Header({
    path: block.path,
    type: 'File',
    mode: block.mode ?? 0o644,
    size,
    linkpath: block.linkpath,
    uid: 0,
    gid: 0,
    mtime: MTIME,
  }).encode(header);
  header.write(block.flag === '' ? '\0' : block.flag, 156, 1, 'latin1');
  if (block.linkpath) header.write(block.linkpath, 157, 100, 'utf8'); // the encoder drops it for a 'File'
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return header;
}

/** Encodes raw blocks as-is (any flag, any order, no checks) into a gzipped tar. */
export function encodeRaw(blocks: RawBlock[]): Buffer {
  const out: Buffer[] = [];
  for (const block of blocks) {
    const body = Buffer.from(block.body ?? '');
    out.push(rawHeader(block, body.length));
    if (body.length > 0) out.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  }
  out.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(out));
}

const PKG_JSON: RawBlock = { flag: '0', path: 'package/package.json', body: '{"name":"hostile","version":"1.0.0"}\n' };

/**
 * Hostile tarballs, one fault each, that GNU tar and node-tar read differently or that escape through
 * links. `../outside/` is a sibling of the destination that the tests watch.
 */
export const HOSTILE: Record<string, RawBlock[]> = {
  'pax path + GNU long name on one entry': [
    PKG_JSON,
    { flag: 'x', path: 'PaxHeader', body: paxBody({ path: 'package/harmless.txt' }) },
    { flag: 'L', path: '././@LongLink', body: 'package/node_modules/.bin/evil\0' },
    { flag: '0', path: 'package/short', body: 'x' },
  ],
  'PAX linkpath + GNU long link disagree': [
    PKG_JSON,
    { flag: 'x', path: 'PaxHeader', body: paxBody({ linkpath: 'package.json' }) },
    { flag: 'K', path: '././@LongLink', body: '../../../outside/secret\0' },
    { flag: '2', path: 'package/l', linkpath: 'x' },
  ],
  'two PAX headers before one entry': [
    PKG_JSON,
    { flag: 'x', path: 'PaxHeader', body: paxBody({ path: 'package/a' }) },
    { flag: 'x', path: 'PaxHeader', body: paxBody({ path: 'package/b' }) },
    { flag: '0', path: 'package/c', body: 'x' },
  ],
  'global PAX linkpath': [
    PKG_JSON,
    { flag: 'g', path: 'pax_global_header', body: paxBody({ linkpath: '../../outside' }) },
    { flag: '2', path: 'package/l', linkpath: 'package.json' },
  ],
  'global PAX path': [
    PKG_JSON,
    { flag: 'g', path: 'pax_global_header', body: paxBody({ path: '../outside/evil' }) },
    { flag: '0', path: 'package/x', body: 'x' },
  ],
  'PAX GNU.sparse keys on a regular file': [
    PKG_JSON,
    {
      flag: 'x',
      path: 'PaxHeader',
      body: paxBody({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'package/s' }),
    },
    { flag: '0', path: 'package/GNUSparseFile.0/s', body: 'x' },
  ],
  'unknown type flag Z': [PKG_JSON, { flag: 'Z', path: 'package/z', body: 'x' }],
  'GNU sparse S': [PKG_JSON, { flag: 'S', path: 'package/s', body: 'x' }],
  'hard link': [PKG_JSON, { flag: '1', path: 'package/h', linkpath: 'package/package.json' }],
  fifo: [PKG_JSON, { flag: '6', path: 'package/f' }],
  'symlink chain through links each lexically inside': [
    PKG_JSON,
    { flag: '2', path: 'package/d1/d2/a', linkpath: '../..' },
    { flag: '2', path: 'package/d1/d2/b', linkpath: 'a/../..' },
    { flag: '2', path: 'package/d1/d2/etc', linkpath: 'b/outside' },
  ],
  'symlink that escapes only through a later link': [
    PKG_JSON,
    { flag: '2', path: 'package/d1/d2/b', linkpath: 'a/../..' },
    { flag: '2', path: 'package/d1/d2/a', linkpath: '../..' },
  ],
  'symlink then a file written through it': [
    PKG_JSON,
    { flag: '5', path: 'package/sub/' },
    { flag: '2', path: 'package/lib', linkpath: 'sub' },
    { flag: '0', path: 'package/lib/x.js', body: 'x' },
  ],
  'escaping symlink then a file through it': [
    PKG_JSON,
    { flag: '2', path: 'package/lib', linkpath: '../../outside' },
    { flag: '0', path: 'package/lib/secret', body: 'overwritten' },
  ],
  'absolute path': [PKG_JSON, { flag: '0', path: '/tmp/release-switcher-absolute-escape', body: 'x' }],
  'dot-dot path': [PKG_JSON, { flag: '0', path: 'package/../../outside/evil', body: 'x' }],
  'setuid bit': [PKG_JSON, { flag: '0', path: 'package/bin/tool', mode: 0o4755, body: 'x' }],
  'directory replaced by a symlink later': [
    PKG_JSON,
    { flag: '5', path: 'package/lib/' },
    { flag: '2', path: 'package/lib', linkpath: 'sub' },
    { flag: '0', path: 'package/lib/x.js', body: 'x' },
  ],
  'file replaced by a symlink': [
    PKG_JSON,
    { flag: '0', path: 'package/a.js', body: 'one' },
    { flag: '2', path: 'package/a.js', linkpath: '../../outside/secret' },
  ],
  'directory with a body': [PKG_JSON, { flag: '5', path: 'package/d/', body: 'hidden header bytes' }],
  'file entry named like a directory': [PKG_JSON, { flag: '0', path: 'package/x/', body: 'x' }],
  'PAX type key': [
    PKG_JSON,
    { flag: 'x', path: 'PaxHeader', body: paxBody({ type: '2' }) },
    { flag: '0', path: 'package/t', body: 'x' },
  ],
};

/** Not hostile: npm (node-tar) lets the later of two entries of one file win, and real packages have them. */
export const FILE_WRITTEN_TWICE: RawBlock[] = [
  PKG_JSON,
  { flag: '0', path: 'package/a.js', body: 'one' },
  { flag: '0', path: 'package/a.js', body: 'two' },
];
