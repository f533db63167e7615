/**
 * The in-memory picture of what an unpack has written so far. The destination is a fresh folder
 * only we write to, so this picture IS the disk: a path is allowed only when every parent in it is a
 * directory we made (never a symlink or a file), and a symlink only when its target, followed
 * through the links already in the picture, stays inside.
 */
import { TarRefusal, preview } from './tar-reader.js';

export type Kind = 'file' | 'dir' | 'symlink';

const MAX_HOPS = 40; // as the kernel's MAXSYMLINKS
/** Linux's NAME_MAX and PATH_MAX - 1: a longer name or path can never be written, only fail mid-way. */
const NAME_MAX = 255;
export const PATH_MAX = 4095;

/** Split a header path into safe segments, dropping the first `strip`; undefined when nothing is left. */
export function entrySegments(raw: string, strip: number): string[] | undefined {
  if (raw.startsWith('/')) throw new TarRefusal(`absolute path ${preview(raw)}`);
  if (/[\0]/.test(raw)) throw new TarRefusal(`a path with a NUL byte`);
  if (Buffer.byteLength(raw) > PATH_MAX) throw new TarRefusal(`path ${preview(raw)} is longer than ${PATH_MAX} bytes`);
  const segments = raw.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw new TarRefusal(`path ${preview(raw)} climbs out with ..`);
  const long = segments.find((segment) => Buffer.byteLength(segment) > NAME_MAX);
  if (long !== undefined) throw new TarRefusal(`path ${preview(raw)} has a name longer than ${NAME_MAX} bytes`);
  const kept = segments.slice(strip);
  return kept.length > 0 ? kept : undefined;
}

export class TreeModel {
  readonly #kinds = new Map<string, Kind>([['', 'dir']]);
  readonly #links = new Map<string, string>();

  /**
   * Record a new entry; returns the parent directories that must be created first (outermost
   * first) or throws when a parent is not a directory or the path is already taken.
   */
  add(segments: string[], kind: Kind, target?: string): string[] {
    const created: string[] = [];
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      const existing = this.#kinds.get(parent);
      if (existing === undefined) {
        this.#kinds.set(parent, 'dir');
        created.push(parent);
      } else if (existing !== 'dir') {
        throw new TarRefusal(
          `${segments.join('/')} would be written through the ${existing === 'symlink' ? 'symlink' : 'file'} ${parent}`,
        );
      }
    }
    const rel = segments.join('/');
    const existing = this.#kinds.get(rel);
    if (existing !== undefined) {
      if (existing === 'dir' && kind === 'dir') return created; // a repeated directory entry changes nothing
      // A repeated file: the later one wins, as npm (node-tar) has it; real packages ship such archives
      // (openclaw 2026.9.5 has dist/index.js twice). The writer replaces our own earlier file in place.
      if (existing === 'file' && kind === 'file') return created;
      throw new TarRefusal(`${rel} appears twice in the archive (${existing}, then ${kind})`);
    }
    this.#kinds.set(rel, kind);
    if (kind === 'symlink') {
      this.#links.set(rel, target ?? '');
      this.checkLink(rel);
    }
    return created;
  }

  /** Refuse a symlink whose target is absolute or leaves the tree, following links already recorded. */
  checkLink(rel: string): void {
    const target = this.#links.get(rel) ?? '';
    if (target.startsWith('/')) throw new TarRefusal(`symlink ${rel} points at the absolute path ${preview(target)}`);
    if (target === '' || target.includes('\0'))
      throw new TarRefusal(`symlink ${rel} has the target ${JSON.stringify(target)}`);
    if (Buffer.byteLength(target) > PATH_MAX)
      throw new TarRefusal(`symlink ${rel} has a target longer than ${PATH_MAX} bytes`);
    const from = rel.split('/').slice(0, -1);
    if (this.resolve(from, target) === undefined)
      throw new TarRefusal(`symlink ${rel} -> ${preview(target)} leads outside the package`);
  }

  /** Every link again, now that the whole tree is known (a link may point through a later one). */
  checkAllLinks(): void {
    for (const rel of this.#links.keys()) this.checkLink(rel);
  }

  /** Resolve `target` from the directory `from` as the kernel would; undefined when it escapes or loops. */
  resolve(from: string[], target: string): string[] | undefined {
    const current = [...from];
    const queue = target.split('/');
    let hops = 0;
    while (queue.length > 0) {
      const segment = queue.shift()!;
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (current.length === 0) return undefined;
        current.pop();
        continue;
      }
      current.push(segment);
      const key = current.join('/');
      if (this.#kinds.get(key) !== 'symlink') continue;
      const next = this.#links.get(key) ?? '';
      if (++hops > MAX_HOPS || next.startsWith('/')) return undefined;
      current.pop();
      queue.unshift(...next.split('/'));
    }
    return current;
  }
}
