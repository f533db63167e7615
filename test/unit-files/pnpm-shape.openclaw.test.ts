// The pnpm install shape on the real package (issue 33): openclaw 2026.9.5 installed with `pnpm add -g` (the way
// OpenClaw's Ansible role installs it: `pnpm install -g openclaw@latest`), its gateway run by a unit through pnpm's
// shim (`$PNPM_HOME/openclaw gateway`, Node from the unit's PATH, the port only in openclaw.json), all as the suite's
// normal account under a private systemd --user. Adopt cannot copy pnpm's folder (its dependencies live in pnpm's
// store): it stages 9.5 from the registry with npm's tree and proves it the same package; the rest is every shape's
// lifecycle (openclaw-shapes.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runnableBy } from '../support/cli.ts';
import {
  FROM,
  shapeBench,
  shapeLifecycle,
  shapesRunHere,
  startShapeGateway,
  SHAPE_CASE_MS,
} from '../support/openclaw-shapes.ts';
import { describeWhere } from '../support/skip.ts';

describeWhere(shapesRunHere(), 'the pnpm install shape on the real openclaw (systemd --user, normal account)', () => {
  let pnpmHome: string;
  let installed: string;
  const bench = shapeBench('pnpm', async (made) => {
    const { node, work, account, asUser } = made;
    // pnpm as the account, on the service Node, into a PNPM_HOME of its own (pnpm 10: the package in global/5/.pnpm/…).
    pnpmHome = path.join(work, 'pnpm');
    const pnpm = path.join(
      account ? runnableBy(account).packageDir : process.cwd(),
      'node_modules',
      'pnpm',
      'bin',
      'pnpm.cjs',
    );
    const pnpmEnv = { PNPM_HOME: pnpmHome, PATH: `${path.dirname(node)}:${pnpmHome}:/usr/bin:/bin` };
    const store = `--store-dir=${path.join(work, 'pnpm-store')}`;
    const added = await asUser(node, [pnpm, 'add', '-g', store, `openclaw@${FROM}`], pnpmEnv);
    expect(added.exitCode, String(added.stdout).slice(-2000) + String(added.stderr).slice(-2000)).toBe(0);
    installed = path.join(String((await asUser(node, [pnpm, 'root', '-g'], pnpmEnv)).stdout).trim(), 'openclaw');
    await startShapeGateway(made, {
      execStart: path.join(pnpmHome, 'openclaw'),
      path: `${path.dirname(node)}:${pnpmHome}:/usr/bin:/bin`,
    });
  });

  it(
    'adopt restages and proves, the unit keeps the shim’s Node and arguments, update with a plugin, rollback, doctor, --link-bin over the shim',
    async () => {
      const run = await shapeLifecycle(bench(), {
        installed,
        command: path.join(pnpmHome, 'openclaw'),
        entry: 'openclaw.mjs',
        node: bench().node, // the `node` the shim finds on the unit's PATH
        adopted: (adopted) => {
          // pnpm's folder holds none of its dependencies: staged from the registry and proven, file by file.
          expect(adopted.restaged).toMatchObject({
            why: expect.stringContaining('is outside it'),
            integrity: expect.any(String),
          });
          expect(adopted.restaged.proven).toBeGreaterThan(1000);
          expect(existsSync(path.join(bench().root, 'releases', FROM, 'node_modules'))).toBe(true);
        },
      });
      console.log(`pnpm shape timings (ms): ${JSON.stringify(run.timings)}`);
    },
    SHAPE_CASE_MS,
  );
});
