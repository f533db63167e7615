// The published types, as a consumer compiles them: the package as `npm pack` writes it (the built tree; the
// tarball test packs a clean clone), unpacked into a project's node_modules, compiled by tsc with `strict` and
// `skipLibCheck: false`, so every .d.ts the package ships is checked. A declaration that imports a module whose
// types exist only in our src/model/vendor.d.ts (pacote, npm-package-arg) fails here with TS7016 or TS2307.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cliEnv, tempDir } from '../support/cli.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

const CONSUMER = `
import { ExitCode, isReleaseSwitcherError, runCli, status, update, type Transaction } from 'release-switcher';
import * as internals from 'release-switcher/internals';

async function main(): Promise<number> {
  const tx: Transaction = await update({ root: '/srv/app', spec: 'my-gateway@latest' });
  const where = await status({ root: '/srv/app' });
  const code: number = tx.status === 'verified' ? ExitCode.ok : ExitCode.failed;
  void where.current?.length;
  void internals;
  try {
    return await runCli(['--version'], { stdout: process.stdout, stderr: process.stderr });
  } catch (error) {
    return isReleaseSwitcherError(error) ? error.exitCode : code;
  }
}
void main();
`;

/** The package as npm publishes it (the tree is built by `pretest`), unpacked where a consumer's npm puts it. */
function unpackInto(project: string): void {
  const packed = path.join(project, 'packed');
  mkdirSync(packed);
  // --ignore-scripts: prepack would clean and rebuild dist/ under the other test files that run the CLI from it.
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packed], {
    cwd: REPO,
    env: cliEnv(),
    encoding: 'utf8',
  });
  const [{ filename }] = JSON.parse(out) as [{ filename: string }];
  const target = path.join(project, 'node_modules', 'release-switcher');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(packed, filename), '-C', target, '--strip-components=1']);
}

it('a strict consumer with skipLibCheck false compiles against the packed declarations', () => {
  const project = tempDir('rs-test-consumer-');
  unpackInto(project);
  // A Node library's types name Node's (NodeJS.ProcessEnv, Buffer): a consumer has @types/node, as ours does.
  mkdirSync(path.join(project, 'node_modules', '@types'));
  symlinkSync(path.join(REPO, 'node_modules', '@types', 'node'), path.join(project, 'node_modules', '@types', 'node'));
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module' }));
  writeFileSync(path.join(project, 'index.ts'), CONSUMER);
  const compilerOptions = {
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'ES2022',
    types: ['node'],
  };
  writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['index.ts'] }));
  let output = '';
  try {
    execFileSync(process.execPath, [TSC, '-p', project], { cwd: project, encoding: 'utf8' });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  expect(output).toBe('');
  // A pack and a strict tsc of the declarations: CPU, 18 s at a load average of 8 in CI; vitest's 60 s is no bound for it.
}, 180_000);
