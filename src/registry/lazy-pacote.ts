/**
 * What pacote requires when it loads but a registry staging never uses, loaded on first use instead
 * (platform/lazy-require.ts). sigstore with its TUF client and crypto stack was most of pacote's load time
 * (0.5-0.8 s and ~40 MB here, before the first progress line), yet pacote calls it only to verify
 * provenance attestations, which a staging asks for only when the configuration does. git specs need
 * @npmcli/git; directory specs npm-packlist and @npmcli/run-script (arborist's rebuild and reify, which we
 * never call, too); only pacote's own `extract` needs tar (our unpacker reads tarballs itself). Every module
 * that imports pacote or arborist imports this first.
 */
import { type ExportKind, deferModule, isLoaded, resolveFrom } from '../platform/lazy-require.js';

const DEFERRED: Record<string, ExportKind> = {
  sigstore: 'object',
  '@npmcli/git': 'object',
  tar: 'object',
  'npm-packlist': 'function',
  '@npmcli/run-script': 'function',
};

/** The files pacote's `require(name)` resolves to, by name (the names that resolve). */
export const deferredByPacote: Record<string, string> = Object.fromEntries(
  Object.keys(DEFERRED).flatMap((name) => {
    const id = resolveFrom('pacote', name);
    return id ? [[name, id]] : [];
  }),
);

/** Whether the real sigstore has been loaded in this process (for tests and the start-up bench). */
export function sigstoreLoaded(): boolean {
  const id = deferredByPacote.sigstore;
  return id !== undefined && isLoaded(id);
}

for (const [name, id] of Object.entries(deferredByPacote)) deferModule(id, DEFERRED[name]!);
