/**
 * A strict streaming tar reader: the one parser that both checks and writes a package's entries.
 * node-tar's `Parser` merges PAX, global PAX and GNU long-name headers before it hands out an
 * entry, so a conflict between them (the trick that made GNU tar and node-tar read two different
 * archives) cannot be seen there; this reader sees every header block. It decodes ustar blocks with
 * node-tar's `Header` and refuses, closed by class, anything whose meaning another tar could read
 * differently: unknown type flags, sparse files, two meta headers of one kind before an entry, a PAX
 * path or linkpath that disagrees with a GNU long name, global headers that set anything but
 * comments and times, unknown PAX keys, bodies on directories and links, and lone zero blocks.
 */
import { Header } from 'tar/header';

const BLOCK = 512;
const MAX_META = 1024 * 1024;

/** An archive entry as this reader will let it be written. */
export interface RawEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits from the header (incl. setuid/setgid/sticky, for the caller to refuse). */
  mode: number;
  size: number;
  linkpath?: string;
}

export type TarEvent = { kind: 'entry'; entry: RawEntry } | { kind: 'data'; chunk: Buffer } | { kind: 'end' };

/** Why an archive is refused; `corrupt` when it is broken rather than hostile. */
export class TarRefusal extends Error {
  constructor(
    message: string,
    readonly corrupt = false,
  ) {
    super(message);
  }
}

/** A long name shortened for a message. */
export function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 60)}…(${Buffer.byteLength(text)} bytes)` : text;
}

const ENTRY_TYPES: Record<string, RawEntry['type']> = {
  '0': 'file',
  '': 'file',
  '7': 'file',
  '5': 'dir',
  '2': 'symlink',
};
const META_TYPES = new Set(['x', 'g', 'L', 'K']);
const TYPE_NAMES: Record<string, string> = {
  '1': 'hard link',
  '3': 'character device',
  '4': 'block device',
  '6': 'fifo',
  S: 'GNU sparse file',
  D: 'GNU dump dir',
  M: 'GNU multi-volume continuation',
  V: 'volume header',
  N: 'old GNU long name',
  X: 'old extended header',
  A: 'Solaris ACL',
  I: 'inode metadata',
};
/** PAX keys we honour (path, linkpath, size) or may safely ignore. Anything else could change meaning. */
const PAX_KEYS = new Set([
  'path',
  'linkpath',
  'size',
  'mtime',
  'atime',
  'ctime',
  'uid',
  'gid',
  'uname',
  'gname',
  'charset',
  'hdrcharset',
  'comment',
  'SCHILY.dev',
  'SCHILY.ino',
  'SCHILY.nlink',
]);
const GLOBAL_KEYS = new Set(['mtime', 'atime', 'ctime', 'charset', 'hdrcharset', 'comment']);
const XATTR = /^(SCHILY|LIBARCHIVE)\.xattr\./;
/**
 * What old npm (fstream-npm) recorded of how it packed: the package.json fields, `NODETAR.type`, block
 * counts. Informational only: node-tar and GNU tar read the entry the same with or without them, so they
 * cannot make the check and the write disagree. Real dependencies of openclaw still carry them.
 */
const PACKER_NOTES = /^NODETAR\./;

interface Pending {
  pax?: Map<string, string>;
  long?: string;
  longLink?: string;
}

export class TarReader {
  #state: 'header' | 'body' | 'meta' | 'pad' | 'eof' = 'header';
  #block = Buffer.alloc(BLOCK);
  #filled = 0;
  #remain = 0;
  #pad = 0;
  #metaType = '';
  #meta: Buffer[] = [];
  #pending: Pending = {};
  #zeroBlocks = 0;

  /** Feed decompressed bytes; appends what they complete to `out`. Throws TarRefusal. */
  push(chunk: Buffer, out: TarEvent[]): void {
    let pos = 0;
    while (pos < chunk.length && this.#state !== 'eof') {
      if (this.#state === 'header') {
        const n = Math.min(BLOCK - this.#filled, chunk.length - pos);
        chunk.copy(this.#block, this.#filled, pos, pos + n);
        this.#filled += n;
        pos += n;
        if (this.#filled === BLOCK) {
          this.#filled = 0;
          this.#header(this.#block, out);
        }
      } else if (this.#state === 'pad') {
        const n = Math.min(this.#pad, chunk.length - pos);
        this.#pad -= n;
        pos += n;
        if (this.#pad === 0) this.#state = 'header';
      } else {
        const n = Math.min(this.#remain, chunk.length - pos);
        const part = chunk.subarray(pos, pos + n);
        pos += n;
        this.#remain -= n;
        if (this.#state === 'body') out.push({ kind: 'data', chunk: part });
        else this.#meta.push(Buffer.from(part));
        if (this.#remain === 0) this.#bodyDone(out);
      }
    }
  }

  /** The input ended: refuse an archive cut short or without its end marker. */
  finish(): void {
    if (this.#state !== 'eof')
      throw new TarRefusal('the archive ends before its end-of-archive marker (truncated)', true);
  }

  #bodyDone(out: TarEvent[]): void {
    if (this.#state === 'body') out.push({ kind: 'end' });
    else this.#applyMeta();
    this.#state = this.#pad > 0 ? 'pad' : 'header';
  }

  #expectBody(size: number, state: 'body' | 'meta', out: TarEvent[]): void {
    this.#remain = size;
    this.#pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.#state = state;
    if (size === 0) this.#bodyDone(out);
  }

  #header(block: Buffer, out: TarEvent[]): void {
    if (block.every((byte) => byte === 0)) {
      if (++this.#zeroBlocks === 2) this.#state = 'eof';
      return;
    }
    if (this.#zeroBlocks > 0)
      throw new TarRefusal('a lone zero block inside the archive (tar implementations disagree on what follows)');
    const header = new Header(block);
    header.block = block;
    if (!header.cksumValid) throw new TarRefusal('a header with a bad checksum', true);
    const flag = block[156] === 0 ? '' : String.fromCharCode(block[156]!);
    const size = rawSize(block);
    if (META_TYPES.has(flag)) {
      if (size > MAX_META) throw new TarRefusal(`a ${flag} meta header of ${size} bytes`);
      if (flag !== 'g' && this.#hasPending(flag)) throw new TarRefusal(`two '${flag}' headers before one entry`);
      this.#metaType = flag;
      this.#meta = [];
      this.#expectBody(size, 'meta', out);
      return;
    }
    const type = ENTRY_TYPES[flag];
    if (!type)
      throw new TarRefusal(`${preview(header.path ?? '?')} is a ${TYPE_NAMES[flag] ?? `type '${flag}'`} entry`);
    const entry = this.#resolve(header, type);
    out.push({ kind: 'entry', entry });
    if (type !== 'file' && entry.size > 0) throw new TarRefusal(`${preview(entry.path)}: a ${type} entry with a body`);
    this.#expectBody(entry.size, 'body', out);
  }

  #hasPending(flag: string): boolean {
    const p = this.#pending;
    return flag === 'x' ? p.pax !== undefined : flag === 'L' ? p.long !== undefined : p.longLink !== undefined;
  }

  /** Combine the entry's own header with the meta headers before it, refusing disagreements. */
  #resolve(header: Header, type: RawEntry['type']): RawEntry {
    const { pax, long, longLink } = this.#pending;
    this.#pending = {};
    const paxPath = pax?.get('path');
    const paxLink = pax?.get('linkpath');
    if (paxPath !== undefined && long !== undefined && paxPath !== long)
      throw new TarRefusal(
        `an entry named both ${JSON.stringify(preview(paxPath))} (PAX) and ${JSON.stringify(preview(long))} (GNU long name)`,
      );
    if (paxLink !== undefined && longLink !== undefined && paxLink !== longLink)
      throw new TarRefusal(
        `a link to both ${JSON.stringify(preview(paxLink))} (PAX) and ${JSON.stringify(preview(longLink))} (GNU long link)`,
      );
    const paxSize = pax?.get('size');
    // The size field as written, not node-tar's decoded one, which forces directories to 0 and
    // would read a directory's body as headers.
    const size = paxSize !== undefined ? decimal(paxSize, 'size') : rawSize(header.block ?? Buffer.alloc(0));
    const linkpath = paxLink ?? longLink ?? header.linkpath;
    const name = paxPath ?? long ?? header.path ?? '';
    if (type === 'file' && name.endsWith('/'))
      throw new TarRefusal(`${preview(name)}: a file entry named like a directory`);
    return {
      path: name,
      type,
      mode: (header.mode ?? 0) & 0o7777,
      size,
      ...(type === 'symlink' ? { linkpath: linkpath ?? '' } : {}),
    };
  }

  #applyMeta(): void {
    const body = Buffer.concat(this.#meta);
    this.#meta = [];
    if (this.#metaType === 'L' || this.#metaType === 'K') {
      const text = body.toString('utf8').replace(/\0[\s\S]*$/, '');
      if (this.#metaType === 'L') this.#pending.long = text;
      else this.#pending.longLink = text;
      return;
    }
    const records = parsePax(body);
    if (this.#metaType === 'g') {
      const bad = [...records.keys()].filter((key) => !GLOBAL_KEYS.has(key) && !PACKER_NOTES.test(key));
      if (bad.length > 0) throw new TarRefusal(`a global PAX header sets ${bad.join(', ')} for every later entry`);
      return;
    }
    const bad = [...records.keys()].filter((key) => !PAX_KEYS.has(key) && !XATTR.test(key) && !PACKER_NOTES.test(key));
    if (bad.length > 0) throw new TarRefusal(`a PAX header with keys this reader does not honour: ${bad.join(', ')}`);
    this.#pending.pax = records;
  }
}

/** PAX records, `<len> <key>=<value>\n`, each length exact; a key given twice or a malformed record is refused. */
export function parsePax(body: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // NUL padding after the last record
    const space = body.indexOf(0x20, pos);
    const length = space > pos ? Number(body.toString('latin1', pos, space)) : NaN;
    if (!Number.isInteger(length) || length <= 0 || pos + length > body.length || body[pos + length - 1] !== 0x0a)
      throw new TarRefusal('a malformed PAX record');
    const record = body.toString('utf8', space + 1, pos + length - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarRefusal('a malformed PAX record');
    const key = record.slice(0, eq);
    if (records.has(key)) throw new TarRefusal(`a PAX header that sets ${key} twice`);
    records.set(key, record.slice(eq + 1));
    pos += length;
  }
  return records;
}

/** The 12-byte octal size field; base-256 (sizes past 8 GiB) is refused, no package needs it. */
function rawSize(block: Buffer): number {
  if (block.length < BLOCK) return 0;
  if (block[124]! & 0x80) throw new TarRefusal('an entry size in base-256 (over 8 GiB)');
  const text = block
    .toString('latin1', 124, 136)
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarRefusal(`a size field of ${JSON.stringify(text)}`, true);
  return parseInt(text, 8);
}

function decimal(value: string, key: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new TarRefusal(`a PAX ${key} of ${JSON.stringify(value)}`);
  return Number(value);
}
