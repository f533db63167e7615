/**
 * The writing half of unpack.ts: bounded parallel writes into a fresh destination, never opening
 * an existing name or following a link on disk.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { TarRefusal } from './tar-reader.js';

/** One entry as unpacked (exported from unpack.ts). */
export interface UnpackedEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  /** Mode as written: files 0644, or 0755 with any x bit; directories 0755; links 0777. */
  mode: number;
  sha256?: string;
  target?: string;
  /**
   * Not written: an earlier release holds a file of this sha256 and mode at this path (the caller's
   * `linkable` said so), to be hardlinked once the tarball is done (see stage/reuse/link-previous.ts linkExtracted).
   */
  linkFrom?: string;
}

/** Which earlier release file holds exactly this content and mode (undefined: write it). */
export type Linkable = (entry: UnpackedEntry & { sha256: string }) => string | undefined;

const PARALLEL = 24; // writes in flight
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** A file's bytes as they arrive, hashed on the way; written whole once complete. */
export class FileBody {
  chunks: Buffer[] = [];
  buffered = 0;
  handle: fs.FileHandle | undefined;
  readonly #hash = createHash('sha256');
  constructor(readonly entry: UnpackedEntry) {}
  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.#hash.update(chunk);
  }
  finish(): void {
    this.entry.sha256 = this.#hash.digest('hex');
  }
}

/**
 * Writes with a bounded number in flight. Each directory is created once, after its parent, and
 * checked with realpath once (the known-safe cache); files are created O_EXCL|O_NOFOLLOW so an
 * existing name or link is never opened.
 */
export class Writer {
  readonly #dirs = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Large files opened by spill() and not yet closed, so a failure closes them too. */
  readonly #spilled = new Set<fs.FileHandle>();
  /** Each file name's latest write, so a repeated entry replaces it only once it is done. */
  readonly #files = new Map<string, Promise<void>>();
  #queuedBytes = 0;
  #error: unknown;
  readonly #umask = process.umask();

  /** `linkable`: asked for each complete file held in memory; a file it names a source for is not written. */
  constructor(
    readonly root: string,
    readonly linkable?: Linkable,
  ) {
    this.#dirs.set('', Promise.resolve());
  }

  hasDir(rel: string): boolean {
    return this.#dirs.has(rel);
  }

  mkdir(rel: string): void {
    const parent = this.#dirs.get(parentOf(rel)) ?? Promise.resolve();
    const abs = path.join(this.root, rel);
    const made = parent.then(async () => {
      await fs.mkdir(abs, { mode: 0o755 });
      if ((await fs.realpath(abs)) !== abs) throw new TarRefusal(`${rel} resolves outside the destination`);
      if (this.#umask & 0o755) await fs.chmod(abs, 0o755);
    });
    made.catch(() => undefined);
    this.#dirs.set(rel, made);
    this.#track(made);
  }

  symlink(rel: string, target: string): void {
    this.#track(this.#parent(rel).then(() => fs.symlink(target, path.join(this.root, rel))));
  }

  writeFile(body: FileBody): void {
    body.finish();
    const size = body.entry.size;
    // A file already written under this name (a repeated entry) is replaced by a write, never a link.
    const earlier = body.handle ? undefined : this.#files.get(body.entry.path);
    if (this.linkable && !body.handle && earlier === undefined && size > 0) {
      const source = this.linkable(body.entry as UnpackedEntry & { sha256: string });
      if (source !== undefined) {
        body.entry.linkFrom = source;
        body.chunks = [];
        return;
      }
    }
    this.#queuedBytes += size;
    const job = this.#parent(body.entry.path).then(async () => {
      const handle = body.handle ?? (await this.#open(body, earlier));
      try {
        if (body.chunks.length > 0) await handle.writev(body.chunks);
        if (this.#umask & body.entry.mode) await handle.chmod(body.entry.mode);
      } finally {
        this.#spilled.delete(handle);
        await handle.close();
      }
    });
    this.#files.set(body.entry.path, job);
    this.#track(job.finally(() => (this.#queuedBytes -= size)));
  }

  /** Write what a large file has so far, in order, before reading on. */
  async spill(body: FileBody): Promise<void> {
    await this.#parent(body.entry.path);
    if (!body.handle) {
      body.handle = await this.#open(body, this.#files.get(body.entry.path));
      this.#spilled.add(body.handle);
    }
    const chunks = body.chunks;
    body.chunks = [];
    body.buffered = 0;
    await body.handle.writev(chunks);
  }

  /**
   * `earlier`: the write of an earlier entry of the same name (a repeated file). Wait for it, then
   * unlink that file of ours (unlink never follows a link) and create afresh, still O_EXCL|O_NOFOLLOW.
   */
  async #open(body: FileBody, earlier: Promise<void> | undefined): Promise<fs.FileHandle> {
    const abs = path.join(this.root, body.entry.path);
    if (earlier) {
      await earlier.catch(() => undefined);
      await fs.unlink(abs);
    }
    return fs.open(abs, WRITE_FLAGS, body.entry.mode);
  }

  /** Wait while too much is in flight; rethrow the first write error. */
  async room(): Promise<void> {
    while (this.#inFlight.size >= PARALLEL || this.#queuedBytes > MAX_QUEUED_BYTES) await Promise.race(this.#inFlight);
    if (this.#error !== undefined) throw this.#error;
  }

  async drain(): Promise<void> {
    await this.settle();
    if (this.#error !== undefined) throw this.#error;
  }

  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await Promise.allSettled([...this.#spilled].map((handle) => handle.close()));
    this.#spilled.clear();
  }

  #parent(rel: string): Promise<void> {
    return this.#dirs.get(parentOf(rel)) ?? Promise.reject(new TarRefusal(`${rel}: its directory was never created`));
  }

  #track(job: Promise<void>): void {
    const tracked: Promise<void> = job
      .catch((error: unknown) => {
        this.#error ??= error;
      })
      .finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}
