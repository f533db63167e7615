// What the early syntax check's outcome rests on (smoke.ts syntaxInputs): unchanged while nothing the check
// reads changes; changed by a rewrite of an entry point (even to the same size), by a candidate that appears
// (index.js beside a bare `main`), by a package.json between an entry point and the package root (the parse
// goal), and by a file replaced under the same name. A file the check does not read changes nothing.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { syntaxInputs } from '../../src/stage/smoke.ts';
import { tempDir } from '../support/cli.ts';

const PKG = { name: 'p', version: '1.0.0', main: 'lib/main', bin: { p: 'bin/cli.js' } };

function packageDir(): string {
  const dir = tempDir('rs-smoke-inputs-');
  mkdirSync(join(dir, 'lib'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify(PKG));
  writeFileSync(join(dir, 'lib', 'main.js'), 'module.exports = 1;\n');
  writeFileSync(join(dir, 'bin', 'cli.js'), 'console.log(1);\n');
  writeFileSync(join(dir, 'README.md'), 'hello\n');
  return dir;
}

describe('syntaxInputs', () => {
  it('is the same while nothing the check reads changed', async () => {
    const dir = packageDir();
    const before = await syntaxInputs(dir, PKG);
    writeFileSync(join(dir, 'README.md'), 'changed\n');
    expect(await syntaxInputs(dir, PKG)).toBe(before);
  });

  it.each([
    [
      'an entry point rewritten to the same size',
      (dir: string) => writeFileSync(join(dir, 'bin', 'cli.js'), 'console.log(;);\n'),
    ],
    ['a candidate that appears', (dir: string) => mkdirSync(join(dir, 'lib', 'main'))],
    [
      'a package.json on the way up',
      (dir: string) => writeFileSync(join(dir, 'lib', 'package.json'), '{"type":"module"}'),
    ],
    [
      'the root package.json',
      (dir: string) => writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...PKG, type: 'module' })),
    ],
    [
      'a file replaced under its name',
      (dir: string) => {
        writeFileSync(join(dir, 'lib', 'other.js'), 'module.exports = 1;\n');
        renameSync(join(dir, 'lib', 'other.js'), join(dir, 'lib', 'main.js'));
      },
    ],
  ])('changes with %s', async (_what, change) => {
    const dir = packageDir();
    const before = await syntaxInputs(dir, PKG);
    change(dir);
    expect(await syntaxInputs(dir, PKG)).not.toBe(before);
  });
});
