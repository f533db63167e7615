// The collection's rolling update for real: ansible-playbook (Debian's ansible-core) with an inventory of three hosts
// that are three gateways on this machine (`ansible_connection: local`, each host its own root, unit and port under
// one private systemd --user), the collection as `ansible-galaxy collection build` packs it and `install` puts it,
// and the CLI the module runs (`rs_executable`) as the manager's account, with its environment (the play's
// `environment:`), as fleet-systemd.test.ts runs `update --all`. ansible-playbook itself runs as that account too.
// - check mode (`-C`, the CLI's --dry-run) reports what would change and changes nothing;
// - a rolling update, canary first in batches of [1, 25%, 100%]: every host verified, changed=1 each, no failure;
// - the same play again: changed=0;
// - a canary whose release crashes on start is rolled back, its task fails with ROLLED_BACK and the play stops: the
//   other hosts are never reached (the same processes, the same release);
// - the rollback playbook takes back the hosts that run the bad release, and a second run changes nothing;
// - the gateway role (the adopt playbook) on a fourth host, a fixture gateway installed with npm -g: release-switcher
//   installed by npm, the gateway adopted (init --adopt), its unit written (unit --install); a second run changed=0;
// - a release promoted by moving dist-tags on the registry (issue 35's channels for fleets): the canary host follows
//   one tag, the others another; moving the canary's updates the canary alone, moving the fleet's the rest.
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { asAccount } from '../support/accounts.ts';
import { accountCliEnv, CLI, cliEnv, runnableBy, tempDir } from '../support/cli.ts';
import { MATRIX } from '../support/fixtures.ts';
import { addDistTag } from '../support/registry.ts';
import {
  currentOf,
  expectUntouched,
  freePort,
  type ManagedGateway,
  mainPidOf,
  managedGateway,
} from '../support/service.ts';
import { describeWhere, hasTool } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const COLLECTION = resolve(import.meta.dirname, '../../ansible');
const CRASHES = MATRIX['crash-on-start'];
const HOSTS = ['gw-a', 'gw-b', 'gw-c'];
const ansible = hasTool('ansible-playbook', 'in CI, which installs ansible-core from apt (.ci/run)');
const where = ansible.ok ? canRunUserManager() : ansible;

interface Stats {
  ok: number;
  changed: number;
  failures: number;
  skipped: number;
  unreachable: number;
}
interface PlayRun {
  exitCode: number;
  stats: Record<string, Stats>;
  /** One entry per batch: its hosts and how long it took. */
  batches: { hosts: string[]; seconds: number }[];
  /** Each task's result per host, in order. */
  results: { task: string; host: string; result: Record<string, any> }[];
  output: string;
}

describeWhere(where, 'the Ansible rolling update across three gateways', () => {
  let manager: UserManager;
  let dir: string;
  let env: Record<string, string>;
  let roleVars: Record<string, any>;
  const gateways: ManagedGateway[] = [];

  /** A command as the manager's account (or the test process's own, when the suite runs as root). */
  const asManager = (command: string, args: string[]) =>
    manager.account ? asAccount(manager.account, command, args) : ([command, args] as [string, string[]]);

  async function playbook(
    name: string,
    args: string[],
    vars = 'vars.json',
    inventory = 'inventory.yml',
  ): Promise<PlayRun> {
    const [command, argv] = asManager('ansible-playbook', [
      '-i',
      join(dir, inventory),
      '-e',
      `@${join(dir, vars)}`,
      ...args,
      `release_switcher.fleet.${name}`,
    ]);
    const r = await execa(command, argv, {
      env: { ...env, ...ansibleEnv() },
      extendEnv: false,
      cwd: dir,
      reject: false,
      timeout: 600_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    const results = json.plays.flatMap((play: any) =>
      play.tasks.flatMap((t: any) =>
        Object.entries(t.hosts).map(([host, result]) => ({ task: t.task.name, host, result })),
      ),
    );
    const batches = json.plays.map((play: any) => ({
      hosts: [...new Set(play.tasks.flatMap((t: any) => Object.keys(t.hosts)))] as string[],
      seconds: (Date.parse(play.play.duration.end) - Date.parse(play.play.duration.start)) / 1000,
    }));
    const stats = json.stats as Record<string, Stats>;
    // The recap, as the issue's closing note shows it.
    process.stderr.write(
      `ansible-playbook ${name} ${args.join(' ')}: exit ${r.exitCode}\n${Object.entries(stats)
        .map(([h, s]) => `  ${h}: ok=${s.ok} changed=${s.changed} failed=${s.failures} skipped=${s.skipped}`)
        .join(
          '\n',
        )}\n${batches.map((b: { hosts: string[]; seconds: number }, i: number) => `  batch ${i + 1}: ${b.hosts.join(',') || '-'} ${b.seconds.toFixed(1)} s`).join('\n')}\n`,
    );
    return { exitCode: r.exitCode ?? -1, stats, batches, results, output };
  }

  const ansibleEnv = () => ({
    ANSIBLE_COLLECTIONS_PATH: join(dir, 'collections'),
    ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
    ANSIBLE_REMOTE_TEMP: join(dir, 'ansible-tmp'),
    ANSIBLE_STDOUT_CALLBACK: 'json',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_RETRY_FILES_ENABLED: 'false',
  });
  const version = async (gw: ManagedGateway) => (await gw.health())?.version;
  const current = currentOf;
  const mainPid = (gw: ManagedGateway) => mainPidOf(manager, gw);

  /**
   * gw-d: a gateway not under release-switcher yet, the fixture installed with `npm install -g --prefix` by the
   * manager's account; the role's host vars (no preset: the package and the settings are init's flags).
   */
  async function newcomer() {
    const prefix = join(dir, 'gateway-d');
    const [command, argv] = asManager('npm', [
      'install',
      '-g',
      '--prefix',
      prefix,
      'rs-fixture-gateway@1.1.0',
      '--registry',
      inject('registryUrl'),
      '--no-audit',
      '--no-fund',
    ]);
    const r = await execa(command, argv, { env, extendEnv: false, cwd: dir, reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const port = await freePort();
    return {
      rs_root: join(dir, 'root-d'),
      rs_adopt: join(prefix, 'lib/node_modules/rs-fixture-gateway'),
      rs_preset: '',
      rs_init_args: [
        '--registry',
        inject('registryUrl'),
        '--supervisor',
        'systemd',
        '--unit',
        'rs-ans-d.service',
        '--health-url',
        `http://127.0.0.1:${port}/health`,
      ],
    };
  }

  beforeAll(async () => {
    manager = await startUserManager({ name: 'ansible' });
    for (const name of ['rs-ans-a', 'rs-ans-b', 'rs-ans-c']) {
      const gw = await managedGateway(manager, { name, stableFor: 1 });
      const first = await gw.rs(['update', 'rs-fixture-gateway@1.1.0']);
      expect(first.json?.result?.status, first.stdout + first.stderr).toBe('verified');
      gateways.push(gw);
    }
    dir = tempDir('rs-ansible-', manager.account ?? null);
    const managerEnv = Object.fromEntries(
      Object.entries(manager.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    env = manager.account ? accountCliEnv(manager.account, managerEnv) : cliEnv(managerEnv);
    // The CLI as the module runs it: the built one, with a Node this account can run.
    const runnable = manager.account ? runnableBy(manager.account) : { node: process.execPath, cli: CLI };
    const executable = join(dir, 'release-switcher');
    writeFileSync(executable, `#!/bin/sh\nexec '${runnable.node}' '${runnable.cli}' "$@"\n`);
    chmodSync(executable, 0o755);
    const hosts = HOSTS.map((h, i) => `        ${h}: {rs_root: ${JSON.stringify(gateways[i]!.root)}}`).join('\n');
    writeFileSync(
      join(dir, 'inventory.yml'),
      `all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: /usr/bin/python3\n  children:\n    gateways:\n      hosts:\n${hosts}\n    canary:\n      hosts:\n        gw-a:\n    newcomers:\n      hosts:\n        gw-d: ${JSON.stringify(await newcomer())}\n`,
    );
    writeFileSync(join(dir, 'vars.json'), JSON.stringify({ rs_executable: executable, rs_environment: env }));
    // The role's run: release-switcher installed by npm into a prefix of the account's (`npm install -g FOLDER` of a
    // copy of the built package the account owns, npm chmods its bin; its node_modules linked, the registry of the
    // tests has none of its dependencies), its CLI from that prefix's bin, a Node it can run first on PATH.
    const tool = join(dir, 'tool');
    const source = join(dir, 'tool-source');
    const packageDir = manager.account ? runnableBy(manager.account).packageDir : resolve(COLLECTION, '..');
    const copy = async (command: string, args: string[]) => {
      const [c, a] = asManager(command, args);
      const r = await execa(c, a, { env, extendEnv: false, cwd: dir, reject: false });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    };
    await copy('mkdir', [source]);
    await copy('cp', ['-r', ...['dist', 'layout', 'package.json'].map((f) => join(packageDir, f)), source]);
    await copy('ln', ['-s', join(packageDir, 'node_modules'), join(source, 'node_modules')]);
    roleVars = {
      rs_tool_spec: source,
      rs_executable: join(tool, 'bin', 'release-switcher'),
      rs_environment: { ...env, npm_config_prefix: tool, PATH: `${dirname(runnable.node)}:${env.PATH}` },
    };
    writeFileSync(join(dir, 'role-vars.json'), JSON.stringify(roleVars));
    const galaxy = async (args: string[]) => {
      const [command, argv] = asManager('ansible-galaxy', args);
      const r = await execa(command, argv, {
        env: { ...env, ...ansibleEnv() },
        extendEnv: false,
        cwd: dir,
        reject: false,
      });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    };
    // The collection as users get it: built, then installed from its tarball. As the test process first (the checkout
    // may be closed to the account), then installed as the account from a copy it can read.
    const built = await execa('ansible-galaxy', ['collection', 'build', COLLECTION, '--output-path', dir], {
      reject: false,
    });
    expect(built.exitCode, built.stdout + built.stderr).toBe(0);
    const tarball = join(dir, 'release_switcher-fleet-0.1.0.tar.gz');
    chmodSync(tarball, 0o644);
    await galaxy(['collection', 'install', tarball, '-p', join(dir, 'collections')]);
  }, 300_000);
  afterAll(async () => manager?.stop());

  it('check mode: every host would update, nothing changes', async () => {
    const pids = await Promise.all(gateways.map(mainPid));
    const r = await playbook('rolling_update', ['--check', '-e', 'rs_version=1.2.0']);
    expect(r.exitCode, r.output).toBe(0);
    for (const host of HOSTS) expect(r.stats[host], host).toMatchObject({ changed: 1, failures: 0 });
    const updates = r.results.filter((t) => t.task.startsWith('Update'));
    expect(updates.map((t) => [t.host, t.result.status, t.result.plan?.to])).toEqual(
      HOSTS.map((h) => [h, 'would_switch', '1.2.0']),
    );
    expect(await Promise.all(gateways.map(current))).toEqual(['1.1.0', '1.1.0', '1.1.0']);
    expect(await Promise.all(gateways.map(mainPid))).toEqual(pids);
  }, 600_000);

  it('a rolling update, canary first: every host verified, changed=1 each, no failure', async () => {
    const r = await playbook('rolling_update', ['-e', 'rs_version=1.2.0']);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.batches.map((b) => b.hosts)).toEqual([['gw-a'], ['gw-b'], ['gw-c']]);
    for (const host of HOSTS) expect(r.stats[host], host).toMatchObject({ ok: 2, changed: 1, failures: 0 });
    for (const t of r.results.filter((t) => t.task.startsWith('Update'))) {
      expect(t.result).toMatchObject({ status: 'verified', verified: true, changed: true, current: '1.2.0' });
      expect(t.result.transaction_id).toEqual(t.result.transaction.id);
    }
    for (const gw of gateways) {
      expect(await version(gw)).toBe('1.2.0');
      expect(await current(gw)).toBe('1.2.0');
    }
  }, 600_000);

  it('the same play again is idempotent: changed=0', async () => {
    const r = await playbook('rolling_update', ['-e', 'rs_version=1.2.0']);
    expect(r.exitCode, r.output).toBe(0);
    for (const host of HOSTS) expect(r.stats[host], host).toMatchObject({ ok: 2, changed: 0, failures: 0 });
  }, 600_000);

  it('a canary whose release crashes on start is rolled back and the play stops; the other hosts are untouched', async () => {
    const pids = await Promise.all(gateways.map(mainPid));
    const r = await playbook('rolling_update', ['-e', `rs_version=${CRASHES}`]);
    expect(r.exitCode, r.output).toBe(2);
    expect(Object.keys(r.stats)).toEqual(['gw-a']);
    expect(r.stats['gw-a']).toMatchObject({ failures: 1 });
    const [canary] = r.results;
    expect(canary?.host).toBe('gw-a');
    expect(canary?.result).toMatchObject({ failed: true, changed: true, status: 'rolled_back', exit_code: 3 });
    expect(canary?.result.msg).toMatch(/^ROLLED_BACK: /);
    expect(canary?.result.transaction_id).toEqual(expect.any(String));
    expect(await version(gateways[0]!)).toBe('1.2.0');
    for (const [i, gw] of gateways.entries())
      if (i > 0) await expectUntouched(manager, gw, { pid: pids[i]!, version: '1.2.0', never: CRASHES });
  }, 600_000);

  it('the rollback playbook takes back the hosts that run the bad release; again, it changes nothing', async () => {
    const r = await playbook('rollback', ['-e', 'rs_bad_version=1.2.0', '-e', 'rs_version=1.1.0']);
    expect(r.exitCode, r.output).toBe(0);
    for (const host of HOSTS) expect(r.stats[host], host).toMatchObject({ changed: 1, failures: 0 });
    for (const gw of gateways) expect(await version(gw)).toBe('1.1.0');
    const again = await playbook('rollback', ['-e', 'rs_bad_version=1.2.0', '-e', 'rs_version=1.1.0']);
    expect(again.exitCode, again.output).toBe(0);
    for (const host of HOSTS) expect(again.stats[host], host).toMatchObject({ changed: 0, failures: 0 });
  }, 600_000);

  it('a release promoted by moving dist-tags on the registry: the canary follows one tag, the rest another', async () => {
    // Each host follows a tag of the operator's registry (its inventory's rs_spec): gw-a the canary's, the others the
    // fleet's. Both name what runs (1.1.0, after the rollback above), so the play changes nothing.
    const registry = inject('registryUrl');
    const PROMOTED = '2.0.0-beta.1'; // a good release no earlier case ran or marked
    await addDistTag('rs-fixture-gateway@1.1.0', 'rs-fleet-canary', { registry });
    await addDistTag('rs-fixture-gateway@1.1.0', 'rs-fleet-stable', { registry });
    const spec = (host: string) => `rs-fixture-gateway@${host === 'gw-a' ? 'rs-fleet-canary' : 'rs-fleet-stable'}`;
    const hosts = HOSTS.map(
      (h, i) => `        ${h}: {rs_root: ${JSON.stringify(gateways[i]!.root)}, rs_spec: ${JSON.stringify(spec(h))}}`,
    ).join('\n');
    writeFileSync(
      join(dir, 'inventory-tags.yml'),
      `all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: /usr/bin/python3\n  children:\n    gateways:\n      hosts:\n${hosts}\n    canary:\n      hosts:\n        gw-a:\n`,
    );
    const roll = () => playbook('rolling_update', [], 'vars.json', 'inventory-tags.yml');
    const changed = (r: PlayRun) => HOSTS.map((h) => r.stats[h]?.changed);
    const still = await roll();
    expect(still.exitCode, still.output).toBe(0);
    expect(changed(still)).toEqual([0, 0, 0]);
    // The canary's tag moves: only the canary updates.
    await addDistTag(`rs-fixture-gateway@${PROMOTED}`, 'rs-fleet-canary', { registry });
    const canary = await roll();
    expect(canary.exitCode, canary.output).toBe(0);
    expect(changed(canary)).toEqual([1, 0, 0]);
    expect(await Promise.all(gateways.map(version))).toEqual([PROMOTED, '1.1.0', '1.1.0']);
    // Promoted: the fleet's tag moves to what the canary verified; the rest update, the canary is left as it is.
    await addDistTag(`rs-fixture-gateway@${PROMOTED}`, 'rs-fleet-stable', { registry });
    const fleet = await roll();
    expect(fleet.exitCode, fleet.output).toBe(0);
    expect(changed(fleet)).toEqual([0, 1, 1]);
    expect(await Promise.all(gateways.map(version))).toEqual([PROMOTED, PROMOTED, PROMOTED]);
    for (const t of fleet.results.filter((t) => t.task.startsWith('Update') && t.host !== 'gw-a'))
      expect(t.result).toMatchObject({ status: 'verified', current: PROMOTED });
  }, 900_000);

  it('the gateway role installs release-switcher with npm and brings a running gateway under it; again, changed=0', async () => {
    const r = await playbook('adopt', ['-e', 'rs_hosts=newcomers'], 'role-vars.json');
    expect(r.exitCode, r.output).toBe(0);
    const ran = (task: string) => r.results.find((t) => t.task.includes(`: ${task}`))?.result;
    expect(ran('Install release-switcher'), r.output).toMatchObject({ changed: true });
    expect(ran('Bring the gateway under'), r.output).toMatchObject({ changed: true });
    expect(ran('Write the unit'), r.output).toMatchObject({ changed: true });
    expect(ran('The gateway as release-switcher sees it'), r.output).toMatchObject({
      status: 'present',
      current: '1.1.0',
    });
    expect(r.stats['gw-d']).toMatchObject({ failures: 0 });
    const again = await playbook('adopt', ['-e', 'rs_hosts=newcomers'], 'role-vars.json');
    expect(again.exitCode, again.output).toBe(0);
    expect(again.stats['gw-d'], again.output).toMatchObject({ changed: 0, failures: 0 });
  }, 600_000);
});
