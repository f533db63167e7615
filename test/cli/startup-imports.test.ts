// What a command loads before it runs: the modules reached by static imports from the bin and the
// command's module (dynamic `import()` is what a command loads only when it needs it). switch,
// rollback and the boot-check that runs before every start of the service must not pull in the
// registry client, the stager or the subprocess library; a no-op boot-check not the flip-back code.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Modules (src-relative paths, and packages as `pkg:name`) reached from `entries` by static imports. */
function staticClosure(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = entries.map((entry) => join(SRC, entry));
  while (queue.length > 0) {
    const file = queue.shift()!;
    const key = file.startsWith('pkg:') ? file : file.slice(SRC.length + 1);
    if (seen.has(key)) continue;
    seen.add(key);
    if (file.startsWith('pkg:')) continue;
    const text = readFileSync(file, 'utf8');
    // Static imports and re-exports (`import type` is erased by the compiler), and the unconditional dynamic
    // imports at a module's top level (`const { x } = await import('…')`: the bin loads the CLI that way, after
    // enabling the compile cache).
    const imports =
      /^(import|export)(?!\s+type\s)[^;'"]*?from\s+'([^']+)'|^import\s+'([^']+)'|^const\s[^=]+=\s*await\s+import\('([^']+)'\)/gm;
    for (const match of text.matchAll(imports)) {
      const spec = match[2] ?? match[3] ?? match[4]!;
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      else queue.push(`pkg:${spec}`);
    }
  }
  return seen;
}

const HEAVY = [
  'pkg:pacote',
  'pkg:@npmcli/arborist',
  'pkg:@npmcli/run-script',
  'pkg:npm-package-arg',
  'pkg:tar',
  'pkg:execa',
  'pkg:semver',
  'pkg:bin-links',
];
const heavyIn = (modules: Set<string>) => HEAVY.filter((name) => modules.has(name));

describe('start-up imports', () => {
  it('finds what it looks for (install does load the registry client and the stager)', () => {
    const install = staticClosure(['cli/main.ts', 'cli/commands/install.ts']);
    expect(install.has('pkg:pacote')).toBe(true);
    expect(install.has('stage/install.ts')).toBe(true);
    expect(install.has('cli/run.ts')).toBe(true);
  });

  it('the bin loads only the compile cache’s own check before it turns the cache on (the rest is imported after)', () => {
    const staticOnly = (file: string) =>
      [...readFileSync(join(SRC, file), 'utf8').matchAll(/^import(?!\s+type\s)[^;'"]*?from\s+'([^']+)'/gm)].map(
        (match) => match[1]!,
      );
    expect(staticOnly('cli/main.ts')).toEqual(['./compile-cache.js']);
    expect(staticOnly('cli/compile-cache.ts').filter((spec) => !spec.startsWith('node:'))).toEqual([
      '../platform/owned-path.js',
    ]);
    expect(staticOnly('platform/owned-path.ts').filter((spec) => !spec.startsWith('node:'))).toEqual([]);
  });

  it.each(['install', 'update'])(
    '%s loads neither init nor what only init uses (adoption, unit files, json5) at start-up',
    (command) => {
      const modules = staticClosure(['cli/main.ts', `cli/commands/${command}.ts`]);
      expect(
        [...modules].filter(
          (m) =>
            m === 'cli/commands/init.ts' ||
            m.startsWith('verbs/init') ||
            m.startsWith('verbs/adopt') ||
            m === 'pkg:json5',
        ),
      ).toEqual([]);
    },
  );

  it.each(['switch', 'rollback', 'boot-check'])(
    '%s loads no registry client, stager or subprocess library at start-up',
    (command) => {
      const modules = staticClosure(['cli/main.ts', `cli/commands/${command}.ts`]);
      expect(heavyIn(modules)).toEqual([]);
      expect([...modules].filter((m) => m.startsWith('stage/') || m.startsWith('registry/'))).toEqual([]);
    },
  );

  it.each(['switch', 'rollback'])(
    '%s loads no supervisor adapter, rehearsal, way back, health prober or snapshot store at start-up (supervisor none without state paths needs none of them)',
    (command) => {
      const modules = staticClosure(['cli/main.ts', `cli/commands/${command}.ts`]);
      const onDemand = [
        'service/supervisors/index.ts',
        'service/supervisors/systemd.ts',
        'service/supervisors/pm2.ts',
        'service/supervisors/launchd.ts',
        'service/systemctl.ts',
        'transaction/preflight-step.ts',
        'rehearsal/preflight.ts',
        'transaction/roll-back.ts',
        'transaction/flip-back.ts',
        'service/health.ts',
        'transaction/handoff.ts',
        'snapshot/snapshot.ts',
        'snapshot/copy.ts',
      ];
      expect(onDemand.filter((m) => modules.has(m))).toEqual([]);
      expect(modules.has('transaction/activate.ts')).toBe(true); // the closure does reach the driver
    },
  );

  it('boot-check loads the flip-back and snapshot code only when a pending release spent its tries or a transaction is in flight', () => {
    const modules = staticClosure(['cli/main.ts', 'cli/commands/boot-check.ts']);
    expect(
      [...modules].filter((m) => m.startsWith('transaction/') || m.startsWith('snapshot/') || m === 'store/release.ts'),
    ).toEqual([]);
  });

  it("boot-check reaches ajv's compiler only through store/config-shape.ts, whose build output is ajv's standalone code", () => {
    // The built CLI loads only ajv's runtime helper (test/store/config-shape-cli.registry.test.ts); src/ compiles for the tests.
    const modules = staticClosure(['cli/main.ts', 'cli/commands/boot-check.ts']);
    const compiling = [...modules].filter(
      (m) =>
        !m.startsWith('pkg:') &&
        /^import(?!\s+type\s)[^;]*from\s+'(ajv\/[^']*|\.\/layout-schema\.js)'/m.test(
          readFileSync(join(SRC, m), 'utf8'),
        ),
    );
    expect(compiling.sort()).toEqual(['store/config-shape.ts', 'store/layout-schema.ts']);
  });

  it("install's staging starts its processes without execa: only a full npm install or a resolver child on another Node uses run()", () => {
    // Static imports plus the modules staging loads on demand (arborist's resolution, the unpacker).
    const modules = staticClosure([
      'cli/main.ts',
      'cli/commands/install.ts',
      'stage/resolve/resolve-ideal.ts',
      'stage/unpack/index.ts',
    ]);
    const usesRun = [...modules].filter(
      (m) =>
        /^(stage|registry|store|platform)\//.test(m) &&
        m !== 'platform/subprocess.ts' &&
        /import\s*\{[^}]*\brun\b[^}]*\}\s*from\s*'[./]*(platform\/)?subprocess\.js'/.test(
          readFileSync(join(SRC, m), 'utf8'),
        ),
    );
    // chattr, sync, the Node probe, the syntax check and every lifecycle script go through runCaptured (Node's own spawn).
    expect(usesRun.sort()).toEqual(['stage/dependencies.ts', 'stage/resolve/resolve-tree.ts']);
  });
});
