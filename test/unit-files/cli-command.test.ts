// Reading which file of the package, with which Node, a unit's package command runs (cli-command.ts), for each way
// OpenClaw is installed: npm -g's link (a shebang `env node`), install-cli.sh's wrapper (an absolute private Node),
// pnpm 10's and pnpm 12's shims (verbatim as those versions write them, paths replaced), and a bare name looked up as
// systemd looks it up. Files only; nothing is run.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliCommandOf } from '../../src/unit-files/cli-command.ts';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});
const temp = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rs-cli-command-'));
  dirs.push(dir);
  return dir;
};
const bins = { openclaw: 'openclaw.mjs' };

function pkg(dir: string): string {
  mkdirSync(path.join(dir, 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'openclaw', version: '2026.9.5', bin: bins }));
  writeFileSync(path.join(dir, 'openclaw.mjs'), "#!/usr/bin/env node\nimport './dist/index.js';\n", { mode: 0o755 });
  writeFileSync(path.join(dir, 'dist', 'index.js'), '');
  writeFileSync(path.join(dir, 'dist', 'entry.js'), '');
  return dir;
}
function executable(file: string, text = '#!/bin/sh\n'): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}
const fixture = (name: string, vars: Record<string, string>) =>
  Object.entries(vars).reduce(
    (text, [key, value]) => text.replaceAll(key, value),
    readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8'),
  );

describe('the package command a unit runs', () => {
  it("npm -g's link: the linked file of the package, the Node `env node` finds on the unit's PATH, the arguments as given", async () => {
    const dir = temp();
    const installed = pkg(path.join(dir, 'prefix/lib/node_modules/openclaw'));
    const link = path.join(dir, 'prefix/bin/openclaw');
    mkdirSync(path.dirname(link));
    symlinkSync('../lib/node_modules/openclaw/openclaw.mjs', link);
    const node = executable(path.join(dir, 'node24/bin/node'));
    const words = [link, 'gateway', '--bind', 'lan'];
    expect(await cliCommandOf(words, { pkg: 'openclaw', bins, unitPath: `${path.dirname(node)}:/usr/bin` })).toEqual({
      command: link,
      file: link,
      entry: 'openclaw.mjs',
      pkgDir: installed,
      node,
      args: ['gateway', '--bind', 'lan'],
    });
    // No node on the unit's PATH: the Node is not known (the drop-in then names release-switcher's own, and says so).
    expect((await cliCommandOf(words, { pkg: 'openclaw', bins, unitPath: path.join(dir, 'empty') }))?.node).toBeNull();
  });

  it("install-cli.sh's wrapper: its absolute private Node and the file it execs (dist/entry.js)", async () => {
    const dir = temp();
    const nodeDir = path.join(dir, '.openclaw/tools/node-v24.19.0');
    const installed = pkg(path.join(nodeDir, 'lib/node_modules/openclaw'));
    const node = executable(path.join(nodeDir, 'bin/node'));
    symlinkSync(nodeDir, path.join(dir, '.openclaw/tools/node'));
    const privateNode = path.join(dir, '.openclaw/tools/node/bin/node');
    const wrapper = executable(
      path.join(dir, '.openclaw/bin/openclaw'),
      `#!/usr/bin/env bash\nset -euo pipefail\nexec "${privateNode}" "${installed}/dist/entry.js" "$@"\n`,
    );
    expect(await cliCommandOf([wrapper, 'gateway'], { pkg: 'openclaw', bins })).toEqual({
      command: wrapper,
      file: wrapper,
      entry: 'dist/entry.js',
      pkgDir: installed,
      node: privateNode,
      args: ['gateway'],
    });
    expect(node).toBeTruthy();
  });

  it("pnpm 10's and pnpm 12's shims: the package file they name relative to themselves, and `node` from the unit's PATH", async () => {
    const dir = temp();
    const node = executable(path.join(dir, 'node24/bin/node'));
    // pnpm 10: $PNPM_HOME/openclaw, the package in $PNPM_HOME/global/5/.pnpm/openclaw@<v>/node_modules/openclaw.
    const home10 = path.join(dir, 'pnpm10');
    const installed10 = pkg(path.join(home10, 'global/5/.pnpm/openclaw@2026.9.5/node_modules/openclaw'));
    const shim10 = executable(path.join(home10, 'openclaw'), fixture('pnpm10-shim.sh', { '@PNPM_HOME@': home10 }));
    // pnpm 12: $PNPM_HOME/bin/openclaw, the package linked in $PNPM_HOME/global/v11/<hash>/node_modules/openclaw.
    const home12 = path.join(dir, 'pnpm12');
    const hash = '926ea0a51a5e60b563a5c9f5e53c1fda01ec614676ee4355740d8c425a806cdb';
    const installed12 = pkg(path.join(home12, 'global/v11', hash, 'node_modules/openclaw'));
    const shim12 = executable(
      path.join(home12, 'bin/openclaw'),
      fixture('pnpm12-shim.sh', { '@PNPM_HOME@': home12, '@STORE@': path.join(dir, 'store') }),
    );
    const unitPath = `${path.dirname(node)}:/usr/bin:/bin`;
    for (const [shim, installed] of [
      [shim10, installed10],
      [shim12, installed12],
    ] as const) {
      expect(await cliCommandOf([shim, 'gateway'], { pkg: 'openclaw', bins, unitPath })).toEqual({
        command: shim,
        file: shim,
        entry: 'openclaw.mjs',
        pkgDir: installed,
        node,
        args: ['gateway'],
      });
    }
  });

  it('a bare name is looked up where systemd looks (not the unit PATH); another program or a missing command is none', async () => {
    const dir = temp();
    const installed = pkg(path.join(dir, 'prefix/lib/node_modules/openclaw'));
    const execDir = path.join(dir, 'usr-local-bin');
    mkdirSync(execDir);
    symlinkSync(path.join(installed, 'openclaw.mjs'), path.join(execDir, 'openclaw'));
    const found = await cliCommandOf(['openclaw', 'gateway'], { pkg: 'openclaw', bins, execSearchPath: [execDir] });
    expect(found).toMatchObject({ command: 'openclaw', file: path.join(execDir, 'openclaw'), entry: 'openclaw.mjs' });
    expect(await cliCommandOf(['openclaw', 'gateway'], { pkg: 'openclaw', bins, execSearchPath: [dir] })).toBeNull();
    const other = executable(path.join(dir, 'bin/other'), '#!/bin/sh\nexec /usr/bin/env node /srv/app.js "$@"\n');
    expect(await cliCommandOf([other], { pkg: 'openclaw', bins })).toBeNull();
    // A script named like the package's command that runs something else is not it either.
    const impostor = executable(path.join(dir, 'bin/openclaw'), '#!/bin/sh\nexec /usr/bin/env node /srv/app.js "$@"\n');
    expect(await cliCommandOf([impostor, 'gateway'], { pkg: 'openclaw', bins })).toBeNull();
    expect(await cliCommandOf(null, { pkg: 'openclaw', bins })).toBeNull();
  });

  it("a command under the root's current (and adopt's <root>/bin script that runs it): that file of the release", async () => {
    const dir = temp();
    const root = path.join(dir, 'root');
    const release = pkg(path.join(root, 'releases/2026.9.5'));
    symlinkSync('releases/2026.9.5', path.join(root, 'current'));
    const node = executable(path.join(dir, 'node24/bin/node'));
    chmodSync(path.join(release, 'openclaw.mjs'), 0o755);
    const inCurrent = path.join(root, 'current/openclaw.mjs');
    const found = await cliCommandOf([inCurrent, 'gateway'], {
      pkg: 'openclaw',
      bins,
      unitPath: path.dirname(node),
      root,
    });
    expect(found).toMatchObject({ command: inCurrent, entry: 'openclaw.mjs', node, args: ['gateway'] });
    // The control: without the root, a file of a release is no command of the package.
    expect(
      await cliCommandOf([inCurrent, 'gateway'], { pkg: 'openclaw', bins, unitPath: path.dirname(node) }),
    ).toBeNull();
    const script = executable(
      path.join(root, 'bin/openclaw'),
      `#!/bin/sh\nexec '${node}' '${root}/current/openclaw.mjs' "$@"\n`,
    );
    expect(await cliCommandOf([script, 'gateway'], { pkg: 'openclaw', bins, root })).toMatchObject({
      entry: 'openclaw.mjs',
      node,
      args: ['gateway'],
    });
  });
});
