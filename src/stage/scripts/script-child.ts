/**
 * Runs one lifecycle event of one dependency, as a child on the configured Node. A child because
 * @npmcli/run-script merges its own process.env into the script's: started with npm's environment
 * shape only, this process has nothing else to hand on (the caller's secrets stay with the caller).
 * argv: <package dir> <event>.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import runScript from '@npmcli/run-script';

async function main(): Promise<void> {
  const [dir, event] = process.argv.slice(2) as [string, string];
  const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const result = await runScript({ event, path: dir, pkg, stdio: 'pipe', scriptShell: '/bin/sh' }).catch(
    (error: unknown) => error as { code: number; stdout?: string; stderr?: string },
  );
  process.stdout.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
  process.exitCode = result.code === 0 || result.code === undefined ? 0 : 1;
}

void main();
