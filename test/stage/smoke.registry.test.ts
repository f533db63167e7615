// The default smoke check of a staged release: every JavaScript entry point (main and bins) syntax-checked
// with the configured Node, all at once, while the manifest is hashed; a broken one fails the install with
// SMOKE_FAILED before anything is linked to an earlier release or sealed, and nothing is left behind.
// Through the built CLI against the seeded Verdaccio.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { rs, tempDir } from '../support/cli.ts';
import { publish } from '../support/registry.ts';

const SLOW = 120_000;
const NAME = 'rs-fixture-smoke';

function smokePackage(version: string, cli: string, scripts?: Record<string, string>): string {
  const dir = tempDir('rs-smoke-src-');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: NAME,
      version,
      main: 'index.js',
      bin: { 'rs-smoke': 'cli.js', 'rs-smoke-esm': 'esm.mjs' },
      ...(scripts ? { scripts } : {}),
    }),
  );
  writeFileSync(join(dir, 'index.js'), 'module.exports = 1;\n');
  writeFileSync(join(dir, 'esm.mjs'), 'export default 1;\n');
  writeFileSync(join(dir, 'cli.js'), cli);
  return dir;
}

beforeAll(async () => {
  const registry = inject('registryUrl');
  await publish(smokePackage('1.0.0', '#!/usr/bin/env node\nconsole.log(1);\n'), { registry });
  await publish(smokePackage('1.1.0', '#!/usr/bin/env node\nconsole.log(1;\n'), { registry });
  // Sound as packed; its own postinstall breaks its main file, after the check has begun on the packed one.
  const breaks = `node -e "require('fs').writeFileSync('index.js', 'module.exports = (;')"`;
  await publish(smokePackage('1.2.0', '#!/usr/bin/env node\nconsole.log(1);\n', { postinstall: breaks }), { registry });
}, SLOW);

/** A new root for the smoke package on the test registry. */
async function initRoot(): Promise<string> {
  const root = join(tempDir('rs-smoke-'), 'root');
  const init = await rs(root, ['init', '--package', NAME, '--registry', inject('registryUrl')]);
  expect(init.exitCode, init.stderr).toBe(0);
  return root;
}

describe('smoke check', () => {
  it(
    'checks every entry point while the manifest is hashed, reported in order; a syntax error in one fails the install with SMOKE_FAILED, nothing left',
    async () => {
      const root = await initRoot();
      const good = await rs(root, ['install', `${NAME}@1.0.0`]);
      expect(good.exitCode, good.stderr).toBe(0);
      expect(good.stderr).toContain('smoke: syntax ok: index.js, cli.js, esm.mjs');
      // The check ran while the manifest was hashed (it used to run before, alone).
      expect(good.stderr.indexOf('manifest: hashing files')).toBeGreaterThan(-1);
      expect(good.stderr.indexOf('manifest: hashing files')).toBeLessThan(good.stderr.indexOf('smoke: syntax ok'));

      const bad = await rs(root, ['install', `${NAME}@1.1.0`]);
      expect(bad.exitCode).toBe(1);
      expect(bad.json.error).toMatchObject({ code: 'SMOKE_FAILED', message: expect.stringContaining('cli.js') });
      expect(existsSync(join(root, 'releases', '1.1.0'))).toBe(false);
      expect(readdirSync(join(root, 'staging'))).toEqual([]);
      expect(readdirSync(join(root, 'releases'))).toEqual(['1.0.0']);
    },
    SLOW,
  );

  it(
    "judges the entry points as the package's own scripts left them (a check begun before them is not taken)",
    async () => {
      const root = await initRoot();
      const broken = await rs(root, ['install', `${NAME}@1.2.0`]);
      expect(broken.exitCode).toBe(1);
      expect(broken.stderr).toContain('lifecycle: ran postinstall');
      expect(broken.json.error).toMatchObject({ code: 'SMOKE_FAILED', message: expect.stringContaining('index.js') });
      expect(readdirSync(join(root, 'releases'))).toEqual([]);
      expect(readdirSync(join(root, 'staging'))).toEqual([]);
    },
    SLOW,
  );
});
