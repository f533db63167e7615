// The layout of OpenClaw's install.sh on a machine whose npm prefix is not writable (its `~/.npm-global` fallback),
// on the real package (issue 33): openclaw 2026.9.5 installed with `npm install -g` into `~/.npm-global` (the prepared
// install of that command, copied in), its gateway run by a unit through npm's link `~/.npm-global/bin/openclaw`
// (a `#!/usr/bin/env node` script: the Node is the unit PATH's), the port only in openclaw.json. Adopt copies it
// (npm's layout holds its dependencies), takes the Node the link finds, finds npm's link; then every shape's
// lifecycle (openclaw-shapes.ts). Then the operator moves the gateway to the other Node line OpenClaw supports and
// back (issue 33: a runtime change is a transaction with its way back).
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ensureNode } from '../../bench/lib/node24.mjs';
import { nodeFor } from '../support/accounts.ts';
import { OPENCLAW_UNIT, openclawHealthy } from '../support/openclaw.ts';
import { copyOpenclaw } from '../support/openclaw-prepared.ts';
import { shapeBench, shapeLifecycle, startShapeGateway, FROM, SHAPE_CASE_MS } from '../support/openclaw-shapes.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager } from '../support/systemd.ts';

describeWhere(
  canRunUserManager(),
  "install.sh's ~/.npm-global layout on the real openclaw (systemd --user, normal account)",
  () => {
    let prefix: string;
    const bench = shapeBench('npmg', async (made) => {
      prefix = path.join(path.dirname(made.state), '.npm-global');
      await copyOpenclaw(FROM, prefix);
      execFileSync('chown', ['-R', '-h', `${made.account?.uid ?? 0}:${made.account?.gid ?? 0}`, prefix]);
      await startShapeGateway(made, {
        execStart: path.join(prefix, 'bin', 'openclaw'),
        path: `${path.dirname(made.node)}:${path.join(prefix, 'bin')}:/usr/bin:/bin`,
      });
    });

    it(
      "adopt copies npm's install and takes the Node its link finds; update with a plugin, rollback, doctor, --link-bin over npm's link",
      async () => {
        const link = path.join(prefix, 'bin', 'openclaw');
        const run = await shapeLifecycle(bench(), {
          installed: path.join(prefix, 'lib', 'node_modules', 'openclaw'),
          command: link,
          kind: 'link',
          entry: 'openclaw.mjs',
          node: bench().node, // `#!/usr/bin/env node`: the node on the unit's PATH
          adopted: (adopted) => {
            expect(adopted.restaged).toBeUndefined();
            expect(adopted.keptOut).toBeUndefined(); // ~/.npm-global is not in the state dir
            expect(adopted.commands[0].npmLink).toBe(link);
          },
        });
        console.log(`~/.npm-global shape timings (ms): ${JSON.stringify(run.timings)}`);
      },
      SHAPE_CASE_MS,
    );

    it('the gateway moved to the other Node line and back: each move a verified transaction, the unit and the process on it', async () => {
      const { rs, um, port, account, node } = bench();
      const major = Number(/v?(\d+)/.exec(execFileSync(node, ['--version'], { encoding: 'utf8' }))![1]);
      const other = nodeFor(account, (await ensureNode(major === 24 ? 26 : 24)).node);
      const runsOn = async (expected: string) => {
        const shown = (await um.systemctl(['show', '-p', 'ExecStart', '--value', OPENCLAW_UNIT])).stdout;
        expect(shown).toContain(`argv[]=${expected} `);
        const { pid, version } = await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 });
        expect(version).toBe(FROM);
        expect(realpathSync(`/proc/${pid}/exe`)).toBe(realpathSync(expected));
      };
      for (const [to, from] of [
        [other, node],
        [node, other],
      ] as const) {
        const started = Date.now();
        const moved = await rs(['switch', FROM, '--node', to]);
        expect(moved.json?.result?.status, moved.stdout.slice(-3000) + moved.stderr.slice(-3000)).toBe('verified');
        expect(moved.json.result.runtime).toMatchObject({ from: { path: from }, to: { path: to }, why: '--node' });
        console.log(`moved to ${to} in ${Date.now() - started} ms: ${JSON.stringify(moved.json.result.window)}`);
        await runsOn(to);
      }
    }, 900_000);
  },
);
