// A runtime change is a transaction like any other (issue 33): the service moved from one Node to another with a
// release, or alone, under a real private systemd --user, the CLI and the service as the suite's normal account.
// The two Nodes are real: the suite's own and another line from the registry (24, or 26 when the suite runs on 24).
// Each move is seen where it happens: the unit's ExecStart (as the manager has it), config.json's node, the Node
// binary the service's process runs (/proc/<pid>/exe), and the journal; each way back (a failed verification, a
// rollback, kill -9 in the flip) puts the Node back with the release.
import { chmodSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureNode } from '../../bench/lib/node24.mjs';
import { nodeFor } from '../support/accounts.ts';
import { runnableBy, tempDir } from '../support/cli.ts';
import { writeGateway } from '../support/fixture-sources.ts';
import { npm } from '../support/registry.ts';
import { currentIsValid, linkOf, readState } from '../support/root.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const can = canRunUserManager();
const MAJOR = Number(process.versions.node.split('.')[0]);
/** Another line than the suite's: 24 from the registry, or 26 when the suite itself runs on 24. */
const OTHER = MAJOR === 24 ? 26 : 24;

describeWhere(can, `the service moved to another Node (${MAJOR} and ${OTHER}), under systemd --user`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  /** The suite's Node and the other line's, as the account runs them. */
  let nodeA: string;
  let nodeB: string;
  /** A "Node" that answers what its version is and runs nothing else: the service fails on it. */
  let broken: string;
  /** rs-fixture-gateway 9.0.0, whose engines.node is only the other line's (a tarball, not published). */
  let needsB: string;

  const execStart = async () =>
    (await manager.systemctl(['show', '-p', 'ExecStart', '--value', gw.unit])).stdout.match(/argv\[\]=(\S+)/)?.[1];
  const servingExe = async () => {
    const pid = Number((await manager.systemctl(['show', '-p', 'MainPID', '--value', gw.unit])).stdout.trim());
    return realpathSync(`/proc/${pid}/exe`);
  };
  const configNode = () => JSON.parse(readFileSync(path.join(gw.root, 'config.json'), 'utf8')).node;
  /** The service runs `node`: the unit names it, config.json says it, and the process is that binary. */
  const runsOn = async (node: string) => {
    expect(await execStart()).toBe(node);
    expect(configNode()).toBe(node);
    expect(await servingExe()).toBe(realpathSync(node));
  };

  beforeAll(async () => {
    manager = await startUserManager({ name: 'runtime' });
    const as = manager.account;
    nodeA = as ? runnableBy(as).node : process.execPath;
    nodeB = nodeFor(as, (await ensureNode(OTHER)).node);
    gw = await managedGateway(manager, { name: 'rs-gw-node', stableFor: 1, init: ['--node', nodeA] });
    const dir = tempDir('rs-runtime-', as);
    broken = path.join(dir, 'node-that-runs-nothing');
    writeFileSync(
      broken,
      `#!/bin/sh\ncase "$1" in -p|-e|--version) exec ${nodeA} "$@";; esac\necho "this Node runs nothing: $*" >&2\nexit 1\n`,
    );
    chmodSync(broken, 0o755);
    await writeGateway(path.join(dir, 'src'), {
      name: 'rs-fixture-gateway',
      version: '9.0.0',
      depRange: '^1.0.0',
      engines: `^${OTHER}.0.0`,
    });
    const packed = await npm(['pack', path.join(dir, 'src'), '--pack-destination', dir, '--json'], {});
    needsB = path.join(dir, JSON.parse(packed.stdout)[0].filename);
    chmodSync(needsB, 0o644);
    for (const version of ['1.0.0', '1.1.0'])
      expect((await gw.rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
    const first = await gw.rs(['switch', '1.0.0']);
    expect(first.json?.result?.status, first.stdout + first.stderr).toBe('verified');
    await runsOn(nodeA);
  }, 300_000);
  afterAll(async () => manager?.stop());

  it('update --node: the release and the Node move together, verified; rollback brings both back', async () => {
    const r = await gw.rs(['update', 'rs-fixture-gateway@1.1.0', '--node', nodeB]);
    expect(r.json?.result?.status, r.stdout + r.stderr).toBe('verified');
    expect(r.json.result.runtime).toMatchObject({
      from: { path: nodeA, version: process.versions.node },
      to: { path: nodeB, version: expect.stringMatching(new RegExp(`^${OTHER}\\.`)) },
      why: '--node',
    });
    expect(r.json.result.steps.find((s: any) => s.name === 'flip').detail).toContain(`(${nodeB})`);
    await runsOn(nodeB);
    expect((await gw.health())?.version).toBe('1.1.0');
    const releases = readState(gw.root).releases;
    expect(releases['1.1.0'].node.path).toBe(nodeB);
    expect(releases['1.0.0'].node.path).toBe(nodeA); // left on A: where a switch back to it goes

    const back = await gw.rs(['rollback']);
    expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
    expect(back.json.result.runtime).toMatchObject({ from: { path: nodeB }, to: { path: nodeA } });
    expect(back.json.result.runtime.why).toContain('1.0.0 last ran on it');
    await runsOn(nodeA);
    expect((await gw.health())?.version).toBe('1.0.0');
  }, 120_000);

  it('a move of the service alone (switch to what runs, --node): verified, previous untouched, the release still good', async () => {
    const previous = linkOf(gw.root, 'previous');
    // --dry-run says the service would move (not "already current"), and changes nothing.
    const plan = await gw.rs(['switch', '1.0.0', '--node', nodeB, '--dry-run']);
    expect(plan.json?.result, plan.stdout + plan.stderr).toMatchObject({
      action: 'switch',
      runtime: { from: nodeA, to: nodeB },
    });
    expect(await execStart()).toBe(nodeA);
    const r = await gw.rs(['switch', '1.0.0', '--node', nodeB]);
    expect(r.json?.result?.status, r.stdout + r.stderr).toBe('verified');
    expect(r.json.result).toMatchObject({ from: '1.0.0', to: '1.0.0' });
    await runsOn(nodeB);
    expect(linkOf(gw.root, 'previous')).toBe(previous);
    // And back, the same way.
    const again = await gw.rs(['switch', '1.0.0', '--node', nodeA]);
    expect(again.json?.result?.status, again.stdout + again.stderr).toBe('verified');
    await runsOn(nodeA);
    expect(readState(gw.root).releases['1.0.0']).toMatchObject({ state: 'good', node: { path: nodeA } });
  }, 120_000);

  it('the service fails on the new Node: rolled back onto the old Node, the release not marked bad', async () => {
    const r = await gw.rs(['switch', '1.0.0', '--node', broken]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.json.result).toMatchObject({ status: 'rolled_back', runtime: { to: { path: broken } } });
    expect(r.json.result.steps.find((s: any) => s.name === 'rollback').detail).toContain(`(${nodeA})`);
    await runsOn(nodeA);
    expect((await gw.health())?.version).toBe('1.0.0');
    expect(readState(gw.root).releases['1.0.0'].state).toBe('good');
  }, 120_000);

  it.each([
    ['a Node that does not exist', () => '/nonexistent/bin/node', 'NODE_NOT_FOUND'],
    ["a Node the release's engines exclude", () => needsB, 'ENGINE_MISMATCH'],
  ])(
    '--node with %s: refused before anything changes',
    async (_what, which, code) => {
      const before = { unit: await execStart(), config: configNode(), current: linkOf(gw.root, 'current') };
      // The second case asks for the suite's Node for a release that needs the other line: staged, then refused.
      const args =
        code === 'ENGINE_MISMATCH' ? ['update', which(), '--node', nodeA] : ['switch', '1.1.0', '--node', which()];
      const r = await gw.rs(args);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.json.error).toMatchObject({ code, hint: expect.any(String) });
      expect({ unit: await execStart(), config: configNode(), current: linkOf(gw.root, 'current') }).toEqual(before);
      expect(readState(gw.root).transaction).toBeNull();
      await runsOn(nodeA);
    },
    120_000,
  );

  it.each([
    ['activate:previous-flipped', 'undone: the service stays on the old Node', () => nodeA, '1.0.0'],
    ['activate:current-flipped', 'carried on: the service runs the release on the new Node', () => nodeB, '1.1.0'],
  ])(
    'kill -9 at %s, then recover: %s',
    async (point, _what, expected, version) => {
      const crashed = await gw.rs(['switch', '1.1.0', '--node', nodeB], { env: { RELEASE_SWITCHER_CRASH_AT: point } });
      expect(crashed.signal, `${point} was never reached: ${crashed.stdout}${crashed.stderr}`).toBe('SIGKILL');
      expect(currentIsValid(gw.root)).toBe(true);
      expect(readState(gw.root).transaction?.runtime?.to?.path).toBe(nodeB);
      const recovered = await gw.rs(['recover']);
      expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
      await runsOn(expected());
      expect((await gw.health())?.version).toBe(version);
      // Leave it as the other cases expect it: 1.0.0 on the suite's Node.
      if (version !== '1.0.0') {
        const back = await gw.rs(['rollback']);
        expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
        await runsOn(nodeA);
      }
    },
    180_000,
  );

  it('a release whose engines need another Node: staged for one found here, and the update moves the service to it', async () => {
    // The other line's Node is on the CLI's PATH (found there, as `which node` would); the service runs the suite's.
    const env = { PATH: `${path.dirname(nodeB)}:/usr/bin:/bin` };
    const r = await gw.rs(['update', needsB], { env });
    expect(r.json?.result?.status, r.stdout + r.stderr).toBe('verified');
    expect(r.json.result.runtime).toMatchObject({ from: { path: nodeA }, to: { path: nodeB } });
    expect(r.json.result.runtime.why).toContain('9.0.0 was staged for it');
    await runsOn(nodeB);
    const back = await gw.rs(['rollback']);
    expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
    await runsOn(nodeA);
  }, 180_000);
});
