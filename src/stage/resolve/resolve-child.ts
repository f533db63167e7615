/**
 * Run as a child process on the CONFIGURED Node (not the one release-switcher runs on) when its major
 * differs from ours: arborist decides optional and engine-gated packages from the running Node, and
 * native builds are for its ABI, so the tree is resolved where it will run. Reads its options (JSON) from
 * the file argv[2] names (a private one: they hold npm's credentials, which a command line would show to
 * every user), writes the tree (JSON) to argv[3]. The resolution itself is resolve-ideal.ts.
 */
import fs from 'node:fs/promises';
import { resolveIdeal } from './resolve-ideal.js';
import type { Manifest } from './resolve-prefetch.js';

interface ChildOptions {
  spec: string;
  /** npm's flat options (registry, auth, omit, before…), already as arborist takes them. */
  flat: Record<string, unknown>;
  /** The package's packument the parent resolved it from (pacote's cache key, a file): not fetched again. */
  packument?: { key: string; file: string };
  /** Names whose packuments are requested at once (resolve-prefetch.ts). */
  seeds?: string[];
  /** The package's manifest when the spec is a tarball (resolve-prefetch.ts starts from it). */
  rootManifest?: Manifest;
}

async function main(): Promise<void> {
  const [optionsFile, out] = process.argv.slice(2);
  const options = JSON.parse(await fs.readFile(optionsFile!, 'utf8')) as ChildOptions;
  const packument = options.packument && {
    key: options.packument.key,
    document: JSON.parse(await fs.readFile(options.packument.file, 'utf8')) as unknown,
  };
  const tree = await resolveIdeal({
    spec: options.spec,
    flat: options.flat,
    packument,
    seeds: options.seeds,
    rootManifest: options.rootManifest,
  });
  await fs.writeFile(out!, JSON.stringify(tree));
}

main().then(
  // Prefetches arborist did not need and keep-alive sockets would hold the process open: the tree is written.
  () => process.exit(0),
  (error: unknown) => {
    const e = error as { code?: string; message?: string };
    process.stderr.write(
      `RESOLVE_ERROR ${JSON.stringify({ code: e.code ?? null, message: e.message ?? String(error) })}\n`,
    );
    process.exit(1);
  },
);
