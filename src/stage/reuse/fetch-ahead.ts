/**
 * New packages' tarballs fetched while the tree still resolves. The resolution's prefetch guesses
 * the version each dependency will get (resolve-prefetch.ts); a guessed package the previous release
 * does not hold and npm's cache lacks is downloaded into the cache at once, by its integrity, as the
 * extraction would download it, so that the extraction after the resolution (extract-packages.ts)
 * reads it from the cache instead of waiting on the network for each new package in turn.
 *
 * Only the download overlaps the resolution, not the extraction: measured on 2 cores (openclaw
 * 2026.9.5 → 2026.9.6), extracting the new packages during the resolution, which is CPU-bound on our
 * thread while the main package unpacks on the other core, delayed the tree by ~2 s and saved ~1 s
 * of placing. A wrong guess costs one download into the cache; a failed one is left to the extraction,
 * which fetches again and reports the error.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
// Before pacote loads: sigstore only when provenance is verified.
import '../../registry/lazy-pacote.js';
import pacote from 'pacote';
import { inNpmCache } from '../../registry/fetch.js';
import { withNetworkDeadline } from '../../registry/network.js';
import type { Guess } from '../resolve/resolve-prefetch.js';
import type { PreviousRelease } from './tree-record.js';

/** How a package version is known to the previous release: name, version and integrity. */
const heldKey = (name: string, pkg: { version?: string; integrity?: string }) =>
  `${name}@${pkg.version} ${pkg.integrity}`;

/** Downloads at a time: they wait on the network, and pacote and cacache hash what arrives. */
const CONCURRENCY = 4;

export class FetchAhead {
  readonly #dir: string;
  readonly #pacoteOptions: Record<string, unknown>;
  readonly #cache: string;
  /** What the previous release holds (`name@version integrity`): linked, never fetched. */
  readonly #held: Promise<Set<string>>;
  readonly #stopping = new AbortController();
  readonly #signal: AbortSignal;
  /** Integrities offered: a tarball is fetched once, whatever names and versions share it. */
  readonly #offered = new Set<string>();
  readonly #queue: Guess[] = [];
  /** Each download started, by integrity: true once it put the tarball into the cache. */
  readonly #started = new Map<string, Promise<boolean>>();
  #active = 0;
  #closed = false;

  /**
   * `dir`: a folder of the staging, for the downloads' files (removed by stop). `previous`: the release
   * the tree links from, as placePackages uses it (none: every package is extracted, so fetched).
   */
  constructor(
    dir: string,
    options: {
      pacoteOptions: Record<string, unknown>;
      previous: Promise<PreviousRelease | undefined>;
      signal?: AbortSignal | undefined;
    },
  ) {
    this.#dir = dir;
    this.#pacoteOptions = options.pacoteOptions;
    this.#cache = String(options.pacoteOptions.cache);
    this.#signal = options.signal ? AbortSignal.any([options.signal, this.#stopping.signal]) : this.#stopping.signal;
    this.#held = options.previous.then(
      (previous) =>
        new Set(
          Object.entries(previous?.packages ?? {}).map(([location, pkg]) =>
            heldKey(location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length), pkg),
          ),
        ),
      () => new Set<string>(),
    );
  }

  /** Fetch this guess's tarball soon, unless the previous release holds it, it was offered before, or the tree is known. */
  offer(guess: Guess): void {
    if (this.#closed || !/^https?:/.test(guess.resolved) || this.#offered.has(guess.integrity)) return;
    this.#offered.add(guess.integrity);
    this.#queue.push(guess);
    this.#pump();
  }

  #pump(): void {
    while (!this.#closed && this.#active < CONCURRENCY && this.#queue.length > 0) {
      const guess = this.#queue.shift()!;
      const done = this.#fetch(guess, this.#started.size);
      this.#started.set(guess.integrity, done);
      this.#active++;
      void done.finally(() => {
        this.#active--;
        this.#pump();
      });
    }
  }

  async #fetch(guess: Guess, n: number): Promise<boolean> {
    const held = await this.#held;
    if (held.has(heldKey(guess.name, guess))) return false;
    if (await inNpmCache(this.#cache, guess.integrity)) return false;
    const file = path.join(this.#dir, `${n}.tgz`);
    try {
      await fs.mkdir(this.#dir, { recursive: true });
      await withNetworkDeadline(
        {
          npmConfig: this.#pacoteOptions as Record<string, string>,
          signal: this.#signal,
          what: `downloading ${guess.resolved}`,
        },
        (signal) =>
          pacote.tarball.file(guess.resolved, file, {
            ...this.#pacoteOptions,
            signal,
            integrity: guess.integrity,
            resolved: guess.resolved,
          }),
      );
      return true;
    } catch {
      // The extraction fetches it again if the tree has it, and reports what fails then.
      return false;
    } finally {
      await fs.rm(file, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Whether this package's tarball was fetched ahead, once its download (if one started) has ended:
   * the extraction waits for it rather than download the same tarball a second time.
   */
  async fetched(pkg: { integrity: string | null }): Promise<boolean> {
    return (pkg.integrity && (await this.#started.get(pkg.integrity))) || false;
  }

  /** The tree is known: nothing more starts (what is under way finishes into the cache). */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
  }

  /** Stop, wait until nothing writes under the folder any more, and remove it. */
  async stop(): Promise<void> {
    this.close();
    this.#stopping.abort();
    await Promise.allSettled(this.#started.values());
    await fs.rm(this.#dir, { recursive: true, force: true });
  }
}
