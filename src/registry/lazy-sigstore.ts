/**
 * pacote requires sigstore when it loads (lib/registry.js), and sigstore with its TUF client and
 * crypto stack is most of pacote's load time (0.5-0.8 s and ~40 MB here, before the first progress
 * line), yet pacote calls it only to verify provenance attestations (`verifyAttestations`), which a
 * staging asks for only when the configuration does. So, before pacote is first loaded, the module
 * cache gets a stand-in under the very path pacote resolves `sigstore` to; the stand-in loads the real
 * module the first time anything of it is used. Every module that imports pacote imports this first.
 */
import { Module, createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The file `require('sigstore')` from pacote resolves to, or undefined when it cannot be resolved. */
function sigstorePath(): string | undefined {
  try {
    return createRequire(require.resolve('pacote')).resolve('sigstore');
  } catch {
    return undefined;
  }
}

/** Whether the real sigstore has been loaded in this process (for tests and the start-up bench). */
export function sigstoreLoaded(): boolean {
  return realSigstore !== undefined;
}

let realSigstore: Record<string | symbol, unknown> | undefined;

function installStandIn(): void {
  const id = sigstorePath();
  // Already loaded (someone required it before us): nothing to save.
  if (!id || require.cache[id]) return;
  const load = (): Record<string | symbol, unknown> => {
    if (!realSigstore) {
      // The stand-in leaves the cache so that this require loads the real module (and caches it).
      delete require.cache[id];
      realSigstore = createRequire(id)(id) as Record<string | symbol, unknown>;
    }
    return realSigstore;
  };
  const standIn = new Module(id);
  standIn.filename = id;
  standIn.loaded = true;
  standIn.exports = new Proxy(
    {},
    {
      get: (_target, key) => load()[key],
      has: (_target, key) => key in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_target, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
        return descriptor && { ...descriptor, configurable: true };
      },
    },
  );
  require.cache[id] = standIn;
}

installStandIn();
