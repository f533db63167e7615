// A lifecycle script runs with exactly the environment @npmcli/run-script gives it in a process whose whole
// environment is npm's shape (what the Node child per event used to do): the same variables, PATH with every
// node_modules/.bin up the tree and run-script's node-gyp shim, npm_package_* of the package, npm_lifecycle_*,
// run-script's own node-gyp (not the environment's). A failing script is a failed result with its output; an
// event with nothing to run starts nothing; the implicit node-gyp install only for a binding.gyp file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lifecycleCommand, runLifecycleEvent } from '../../../src/stage/scripts/lifecycle-event.ts';
import { tempDir } from '../../support/cli.ts';

const RUN_SCRIPT = createRequire(import.meta.url).resolve('@npmcli/run-script');
const DUMP = `node -e "require('fs').writeFileSync(process.env.OUT_FILE, JSON.stringify(process.env))"`;

function packageDir(scripts: Record<string, string>): string {
  const top = tempDir('rs-lifecycle-');
  const dir = join(top, 'node_modules', 'app');
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  const pkg = {
    name: 'app',
    version: '1.2.3',
    config: { port: 8080, flags: ['a', 'b'] },
    engines: { node: '>=18' },
    bin: { app: 'cli.js' },
    scripts,
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  return dir;
}

/** What run-script itself does, in a Node process whose whole environment is `env` (the old child). */
function viaRunScript(dir: string, event: string, env: Record<string, string>): void {
  const script = `const pkg = JSON.parse(require('fs').readFileSync(${JSON.stringify(join(dir, 'package.json'))}, 'utf8'));
require(${JSON.stringify(RUN_SCRIPT)})({ event: ${JSON.stringify(event)}, path: ${JSON.stringify(dir)}, pkg, stdio: 'pipe', scriptShell: '/bin/sh' })
  .then(() => undefined, (e) => { process.stderr.write(String(e.stderr)); process.exitCode = 1; });`;
  execFileSync(process.execPath, ['-e', script], { env, cwd: dir });
}

const baseEnv = () => ({
  PATH: `${process.env.PATH}`,
  HOME: '/home/nobody',
  LANG: 'C.UTF-8',
  npm_config_global: 'true',
  npm_config_cache: '/tmp/npm-cache',
  npm_config_node_gyp: '/somewhere/else/node-gyp.js',
});

describe('runLifecycleEvent', () => {
  it("gives the script run-script's environment, variable for variable", async () => {
    const dir = packageDir({ postinstall: DUMP });
    const ours = join(tempDir('rs-lifecycle-out-'), 'ours.json');
    const theirs = join(tempDir('rs-lifecycle-out-'), 'theirs.json');
    const result = await runLifecycleEvent(dir, 'postinstall', { env: { ...baseEnv(), OUT_FILE: ours } });
    expect(result, result.output).toMatchObject({ exitCode: 0, failed: false });
    viaRunScript(dir, 'postinstall', { ...baseEnv(), OUT_FILE: theirs });
    const [a, b] = [ours, theirs].map((file) => {
      const env = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      delete env.OUT_FILE;
      return env;
    });
    expect(a).toEqual(b);
    // What the comparison covers: the variables run-script adds, and the PATH it builds.
    expect(a).toMatchObject({
      npm_lifecycle_event: 'postinstall',
      npm_package_name: 'app',
      npm_package_config_port: '8080',
      npm_package_config_flags_1: 'b',
      npm_package_json: join(dir, 'package.json'),
    });
    expect(a.PATH!.split(':')[0]).toBe(join(dir, 'node_modules', '.bin'));
    expect(a.npm_config_node_gyp).not.toBe('/somewhere/else/node-gyp.js');
  });

  it('reports a failing script with its output, and starts nothing for an event the package does not have', async () => {
    const dir = packageDir({ install: 'echo out; echo err >&2; exit 3' });
    const failed = await runLifecycleEvent(dir, 'install', { env: baseEnv() });
    expect(failed).toMatchObject({ exitCode: 3, failed: true });
    expect(failed.output.split('\n').sort()).toEqual(['err', 'out']);
    expect(await runLifecycleEvent(dir, 'postinstall', { env: baseEnv() })).toMatchObject({ exitCode: 0, output: '' });
  });

  it('runs node-gyp for install only where binding.gyp is a file and no install or preinstall script exists', () => {
    const dir = packageDir({});
    const pkg = { name: 'app', version: '1.0.0' };
    expect(lifecycleCommand(pkg, 'install', dir)).toBeUndefined();
    mkdirSync(join(dir, 'binding.gyp'));
    expect(lifecycleCommand(pkg, 'install', dir)).toBeUndefined();
    const file = packageDir({});
    writeFileSync(join(file, 'binding.gyp'), '{}');
    expect(lifecycleCommand(pkg, 'install', file)).toBe('node-gyp rebuild');
    expect(lifecycleCommand(pkg, 'postinstall', file)).toBeUndefined();
    expect(lifecycleCommand({ ...pkg, gypfile: false }, 'install', file)).toBeUndefined();
    expect(lifecycleCommand({ ...pkg, scripts: { preinstall: 'true' } }, 'install', file)).toBeUndefined();
  });
});
