/**
 * Stand-ins for CommonJS modules that a package requires when it loads but uses only on paths we may
 * never take (pacote loads sigstore, git, tar and npm-packlist for every kind of spec; arborist loads its
 * query language). Before the package loads, the module cache gets a stand-in under the very file the
 * package's `require` resolves to; the stand-in loads the real module the first time anything of it is
 * used (a property read, a call) and forwards everything to it from then on. A require that destructures
 * (`const { x } = require(…)`) uses the module at once: such a module gains nothing from a stand-in.
 */
import { Module, createRequire } from 'node:module';

/** What the module exports: an object of functions, or a function (called, never constructed). */
export type ExportKind = 'object' | 'function';

const realModules = new Map<string, unknown>();

/** The file `request` resolves to from inside package `from` (a package name or a file), or undefined. */
export function resolveFrom(from: string, request: string): string | undefined {
  try {
    const base = createRequire(import.meta.url);
    const fromFile = from.startsWith('/') ? from : base.resolve(from);
    return createRequire(fromFile).resolve(request);
  } catch {
    return undefined;
  }
}

/** Whether the real module of `id` has been loaded through its stand-in (for tests and the start-up bench). */
export function isLoaded(id: string): boolean {
  return realModules.has(id);
}

/**
 * Put a stand-in for the module file `id` into the module cache, unless the module is loaded already.
 * Returns whether a stand-in was put there.
 */
export function deferModule(id: string, kind: ExportKind): boolean {
  const require = createRequire(id);
  if (require.cache[id]) return false;
  const load = (): Record<string | symbol, unknown> => {
    if (!realModules.has(id)) {
      // The stand-in leaves the cache so that this require loads the real module (and caches it).
      delete require.cache[id];
      realModules.set(id, require(id));
    }
    return realModules.get(id) as Record<string | symbol, unknown>;
  };
  // An arrow function has no own non-configurable keys, so every key can be reported as the real module's.
  const target = kind === 'function' ? () => undefined : {};
  const standIn = new Module(id);
  standIn.filename = id;
  standIn.loaded = true;
  standIn.exports = new Proxy(target, {
    get: (_target, key) => load()[key],
    has: (_target, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    apply: (_target, self, args) => Reflect.apply(load() as unknown as (...a: unknown[]) => unknown, self, args),
  });
  require.cache[id] = standIn;
  return true;
}
