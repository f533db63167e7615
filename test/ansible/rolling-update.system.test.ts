// The collection's rolling update for real: ansible-playbook (Debian's ansible-core), run as root as an operator runs
// it, with an inventory of three hosts that are three gateways on this machine (`ansible_connection: local`, each host
// its own root, unit and port) under two accounts, each with its own systemd --user as a login gives it (its HOME,
// /run/user/UID: startUserManager's `login`). Each host names its account with `ansible_become_user` and nothing
// else: no environment, no executable, no npm prefix; the module finds the account's manager and CLI itself. The
// collection as `ansible-galaxy collection build` packs it and `install` puts it.
// - the gateway role (the adopt playbook) on every host and a fourth, a fixture gateway installed with npm -g:
//   release-switcher installed by npm into each account's ~/.local, once per account (machine and prefix) however
//   many of its gateways the play holds, the fourth adopted (init --adopt), its unit written; a second run changed=0;
// - check mode (`-C`, the CLI's --dry-run) reports what would change and changes nothing;
// - a rolling update, canary first in batches of [1, 25%, 100%]: every host verified, changed=1 each, no failure;
// - the same play again: changed=0;
// - a canary whose release crashes on start, the default policy: rolled back, the rollout stops, the play fails it
//   with ROLLED_BACK: the other hosts are never reached (the same processes, the same release);
// - the same with rs_max_failures=2: past the failed canary to the next batch (the other account's gateway, which
//   fails too), then stopped: failures are counted across batches, the third host never reached;
// - an account with no user manager running: the module fails NO_USER_MANAGER, with the linger to run, runs nothing;
// - the rollback playbook takes back the hosts that run the bad release, and a second run changes nothing;
// - a release promoted by moving dist-tags on the registry (issue 35's channels for fleets): the canary host follows
//   one tag, the others another; moving the canary's updates the canary alone, moving the fleet's the rest.
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { type Account, account, asAccount, canUseAccounts } from '../support/accounts.ts';
import { accountCliEnv, cli, runnableBy, tempDir } from '../support/cli.ts';
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
// Two accounts of their own: their managers use their homes and /run/user/UID, as a login's do (so each home is this
// file's, reset at its start). gw-a (the canary) and gw-c run under the first, gw-b under the second.
const ACCOUNTS = ['rs-fleet-a', 'rs-fleet-b'];
const OWNER = [0, 1, 0];
const ansible = hasTool('ansible-playbook', 'in CI, which installs ansible-core from apt (.ci/run)');
const sudo = hasTool('sudo', 'in CI, which installs sudo from apt (.ci/run): Ansible becomes each account with it');
const where = !ansible.ok ? ansible : !sudo.ok ? sudo : !canUseAccounts().ok ? canUseAccounts() : canRunUserManager();

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
  /** One entry per batch of the rollout's play: its hosts and how long it took. */
  batches: { hosts: string[]; seconds: number }[];
  /** Each task's result per host, in order. */
  results: { task: string; host: string; result: Record<string, any> }[];
  output: string;
}

describeWhere(
  where,
  'the Ansible rolling update across three gateways of two accounts, through become_user only',
  () => {
    const accounts: Account[] = [];
    const managers: UserManager[] = [];
    let dir: string;
    const gateways: ManagedGateway[] = [];
    const managerOf = (gw: ManagedGateway) => managers[OWNER[gateways.indexOf(gw)]!]!;

    /** ansible-playbook as root, the operator's way: each host becomes its account (its inventory's become user). */
    async function playbook(name: string, args: string[], inventory = 'inventory.yml'): Promise<PlayRun> {
      const r = await execa(
        'ansible-playbook',
        ['-i', join(dir, inventory), ...args, `release_switcher.fleet.${name}`],
        {
          env: ansibleEnv(),
          extendEnv: false,
          cwd: dir,
          reject: false,
          timeout: 600_000,
        },
      );
      const output = `${r.stdout}\n${r.stderr}`;
      const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
      const results = json.plays.flatMap((play: any) =>
        play.tasks.flatMap((t: any) =>
          Object.entries(t.hosts).map(([host, result]) => ({ task: t.task.name, host, result })),
        ),
      );
      // The rollout's batches (its plays of that name; the report play that fails the failed hosts is not one).
      const batches = json.plays
        .filter((play: any) => !play.play.name.startsWith('Report'))
        .map((play: any) => ({
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
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: join(dir, 'operator'),
      ANSIBLE_COLLECTIONS_PATH: join(dir, 'collections'),
      ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
      ANSIBLE_STDOUT_CALLBACK: 'json',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'false',
    });
    const version = async (gw: ManagedGateway) => (await gw.health())?.version;
    const current = currentOf;
    const mainPid = (gw: ManagedGateway) => mainPidOf(managerOf(gw), gw);

    /** A command as `who`, with its CLI environment (npm's cache and config its own), that must succeed. */
    async function asOwner(who: Account, command: string, args: string[]) {
      const [c, a] = asAccount(who, command, args);
      const r = await execa(c, a, { env: accountCliEnv(who), extendEnv: false, cwd: dir, reject: false });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }

    /**
     * gw-d: a gateway not under release-switcher yet, the fixture installed with `npm install -g --prefix` by the first
     * account; the role's host vars (no preset: the package and the settings are init's flags).
     */
    async function newcomer() {
      const prefix = join(tempDir('rs-ansible-gw-d-', accounts[0]), 'gateway-d');
      await asOwner(accounts[0]!, 'npm', [
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
      const port = await freePort();
      return {
        rs_root: join(prefix, '..', 'root-d'),
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

    /**
     * The release-switcher the role installs for `who` (`npm install -g FOLDER`): a copy of the built package the account
     * owns (npm chmods its bin), its node_modules linked (the tests' registry has none of its dependencies).
     */
    async function toolSource(who: Account): Promise<string> {
      const source = join(tempDir('rs-ansible-tool-', who), 'release-switcher');
      const packageDir = runnableBy(who).packageDir;
      await asOwner(who, 'mkdir', [source]);
      await asOwner(who, 'cp', ['-r', ...['dist', 'layout', 'package.json'].map((f) => join(packageDir, f)), source]);
      await asOwner(who, 'ln', ['-s', join(packageDir, 'node_modules'), join(source, 'node_modules')]);
      return source;
    }

    /** Each host: its root, its account (become user) and nothing else; `extra` adds host vars. */
    const inventory = (extra: (host: string, i: number) => Record<string, unknown> = () => ({})) =>
      HOSTS.map(
        (h, i) =>
          `        ${h}: ${JSON.stringify({ rs_root: gateways[i]!.root, ansible_become_user: ACCOUNTS[OWNER[i]!], ...extra(h, i) })}`,
      ).join('\n');
    const HEAD = 'all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: /usr/bin/python3\n';

    beforeAll(async () => {
      for (const name of ACCOUNTS) {
        const who = account(name);
        // This file's accounts: what an earlier run left in their homes (a tool installed, units, lists of roots) goes.
        for (const sub of ['.config', '.local', '.cache', '.npm'])
          rmSync(join(who.home, sub), { recursive: true, force: true });
        accounts.push(who);
        managers.push(await startUserManager({ name: `ans-${name.slice(-1)}`, account: who, login: true }));
      }
      for (const [i, name] of ['rs-ans-a', 'rs-ans-b', 'rs-ans-c'].entries()) {
        const gw = await managedGateway(managers[OWNER[i]!]!, { name, stableFor: 1 });
        const first = await gw.rs(['update', 'rs-fixture-gateway@1.1.0']);
        expect(first.json?.result?.status, first.stdout + first.stderr).toBe('verified');
        gateways.push(gw);
      }
      dir = tempDir('rs-ansible-', null);
      chmodSync(dir, 0o711); // the accounts pass through it to the collection's files Ansible hands them
      const sources = await Promise.all(accounts.map(toolSource));
      // The role on the fleet's hosts too (rs_unit false: their units carry the tests' own lines, which the role would
      // replace with release-switcher's), to install the tool once per account however many gateways it has.
      const fleet = inventory((_h, i) => ({ rs_tool_spec: sources[OWNER[i]!], rs_unit: false }));
      const gwD = { ...(await newcomer()), ansible_become_user: ACCOUNTS[0], rs_tool_spec: sources[0] };
      writeFileSync(
        join(dir, 'inventory.yml'),
        `${HEAD}  children:\n    gateways:\n      hosts:\n${fleet}\n    canary:\n      hosts:\n        gw-a:\n    newcomers:\n      hosts:\n        gw-d: ${JSON.stringify(gwD)}\n`,
      );
      // The collection as users get it: built, then installed from its tarball.
      for (const args of [
        ['collection', 'build', COLLECTION, '--output-path', dir],
        ['collection', 'install', join(dir, 'release_switcher-fleet-0.1.0.tar.gz'), '-p', join(dir, 'collections')],
      ]) {
        const r = await execa('ansible-galaxy', args, { env: ansibleEnv(), extendEnv: false, cwd: dir, reject: false });
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      }
    }, 300_000);
    afterAll(async () => {
      for (const manager of managers) await manager.stop();
    });

    it('the gateway role installs release-switcher once per account into its ~/.local and brings a running gateway under it; again, changed=0', async () => {
      const r = await playbook('adopt', ['-e', 'rs_hosts=gateways:newcomers']);
      expect(r.exitCode, r.output).toBe(0);
      const task = (name: string) => r.results.filter((t) => t.task.includes(`: ${name}`));
      // One install per machine and prefix: gw-a for the first account (gw-c and gw-d share its ~/.local), gw-b for the
      // second; each into its account's own prefix.
      const installs = task('Install release-switcher');
      expect(
        installs.filter((t) => t.result.changed).map((t) => t.host),
        r.output,
      ).toEqual(['gw-a', 'gw-b']);
      expect(installs.filter((t) => t.result.skipped).map((t) => t.host)).toEqual(['gw-c', 'gw-d']);
      for (const who of accounts) {
        const [c, a] = asAccount(who, join(who.home, '.local', 'bin', 'release-switcher'), ['--version']);
        const v = await execa(c, a, {
          env: { PATH: '/usr/bin:/bin', HOME: who.home },
          extendEnv: false,
          reject: false,
        });
        expect(v.exitCode, `${who.name}: ${v.stdout}${v.stderr}`).toBe(0);
      }
      const ran = (name: string) => task(name).find((t) => t.host === 'gw-d')?.result;
      expect(ran('Bring the gateway under'), r.output).toMatchObject({ changed: true });
      expect(ran('Write the unit'), r.output).toMatchObject({ changed: true });
      expect(ran('The gateway as release-switcher sees it'), r.output).toMatchObject({
        status: 'present',
        current: '1.1.0',
      });
      for (const host of [...HOSTS, 'gw-d']) expect(r.stats[host], host).toMatchObject({ failures: 0 });
      const again = await playbook('adopt', ['-e', 'rs_hosts=gateways:newcomers']);
      expect(again.exitCode, again.output).toBe(0);
      for (const host of [...HOSTS, 'gw-d']) expect(again.stats[host], host).toMatchObject({ changed: 0, failures: 0 });
    }, 600_000);

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
      for (const host of HOSTS) expect(r.stats[host], host).toMatchObject({ changed: 1, failures: 0 });
      for (const t of r.results.filter((t) => t.task.startsWith('Update'))) {
        expect(t.result).toMatchObject({ status: 'verified', verified: true, changed: true, current: '1.2.0' });
        expect(t.result.transaction_id).toEqual(t.result.transaction.id);
      }
      for (const t of r.results.filter((t) => t.task.startsWith('Health gate')))
        expect(t.result, t.host).toMatchObject({ healthy: true, outcome: 'ok' });
      for (const gw of gateways) {
        expect(await version(gw)).toBe('1.2.0');
        expect(await current(gw)).toBe('1.2.0');
      }
    }, 600_000);

    it('the same play again is idempotent: changed=0', async () => {
      const r = await playbook('rolling_update', ['-e', 'rs_version=1.2.0']);
      expect(r.exitCode, r.output).toBe(0);
      for (const host of HOSTS) expect(r.stats[host], host).toMatchObject({ changed: 0, failures: 0 });
    }, 600_000);

    it('a canary whose release crashes on start, by default: rolled back, the rollout stops there and fails it; the other hosts are untouched', async () => {
      const pids = await Promise.all(gateways.map(mainPid));
      const r = await playbook('rolling_update', ['-e', `rs_version=${CRASHES}`]);
      expect(r.exitCode, r.output).toBe(2);
      expect(r.batches.map((b) => b.hosts)).toEqual([['gw-a']]);
      expect(Object.keys(r.stats)).toEqual(['gw-a']);
      expect(r.stats['gw-a']).toMatchObject({ failures: 1 });
      const [canary] = r.results;
      expect(canary?.host).toBe('gw-a');
      expect(canary?.result).toMatchObject({ outcome: 'failed', changed: true, status: 'rolled_back', exit_code: 3 });
      expect(canary?.result.transaction_id).toEqual(expect.any(String));
      const report = r.results.find((t) => t.task === "Fail with the host's error");
      expect(report?.host).toBe('gw-a');
      expect(report?.result).toMatchObject({ failed: true });
      expect(report?.result.msg).toMatch(/^ROLLED_BACK: /);
      expect(await version(gateways[0]!)).toBe('1.2.0');
      for (const [i, gw] of gateways.entries())
        if (i > 0) await expectUntouched(managerOf(gw), gw, { pid: pids[i]!, version: '1.2.0', never: CRASHES });
    }, 600_000);

    it('rs_max_failures=2: the rollout goes past the failed canary to the next batch and stops at the second failure, counted across batches', async () => {
      const pids = await Promise.all(gateways.map(mainPid));
      const r = await playbook('rolling_update', ['-e', `rs_version=${CRASHES}`, '-e', 'rs_max_failures=2']);
      expect(r.exitCode, r.output).toBe(2);
      // The canary (the first account's) failed again (its release is bad there now), the second account's gateway ran
      // in the next batch and rolled back: two failures over two batches of one, so gw-c is never reached.
      expect(r.batches.map((b) => b.hosts)).toEqual([['gw-a'], ['gw-b']]);
      expect(Object.keys(r.stats).sort()).toEqual(['gw-a', 'gw-b']);
      for (const host of ['gw-a', 'gw-b']) expect(r.stats[host], host).toMatchObject({ failures: 1 });
      const update = (host: string) => r.results.find((t) => t.task.startsWith('Update') && t.host === host)?.result;
      expect(update('gw-a')).toMatchObject({ outcome: 'failed' });
      expect(update('gw-b')).toMatchObject({
        outcome: 'failed',
        status: 'rolled_back',
        exit_code: 3,
        current: '1.2.0',
      });
      const reports = r.results.filter((t) => t.task === "Fail with the host's error");
      expect(reports.map((t) => t.host).sort()).toEqual(['gw-a', 'gw-b']);
      expect(await Promise.all(gateways.map(version))).toEqual(['1.2.0', '1.2.0', '1.2.0']);
      await expectUntouched(managerOf(gateways[2]!), gateways[2]!, { pid: pids[2]!, version: '1.2.0', never: CRASHES });
      // What each account sees of its roots afterwards (the issue's closing note shows it).
      for (const [i, who] of accounts.entries()) {
        const gw = gateways[OWNER.indexOf(i)]!;
        const env = Object.fromEntries(
          Object.entries(managerOf(gw).env).filter((e): e is [string, string] => typeof e[1] === 'string'),
        );
        const all = await cli(['--json', 'status', '--all'], { env, as: who });
        process.stderr.write(`status --all --json as ${who.name}: exit ${all.exitCode}\n${all.stdout}\n`);
        const mine = gateways.filter((_g, j) => OWNER[j] === i).map((g) => g.root);
        expect(all.json?.result?.roots?.map((root: { root: string }) => root.root)).toEqual(
          expect.arrayContaining(mine),
        );
      }
    }, 600_000);

    it('an account with no user manager running (no linger): NO_USER_MANAGER with the linger to run, nothing run', async () => {
      const lone = account('rs-fleet-c');
      rmSync(`/run/user/${lone.uid}`, { recursive: true, force: true });
      const root = join(tempDir('rs-ansible-lone-', lone), 'root');
      mkdirSync(root);
      writeFileSync(
        join(root, 'config.json'),
        JSON.stringify({ package: 'rs-fixture-gateway', supervisor: 'systemd' }),
      );
      chownSync(root, lone.uid, lone.gid);
      const host = JSON.stringify({ rs_root: root, ansible_become_user: lone.name });
      writeFileSync(
        join(dir, 'inventory-lone.yml'),
        `${HEAD}  children:\n    gateways:\n      hosts:\n        gw-lone: ${host}\n    canary:\n      hosts:\n        gw-lone:\n`,
      );
      const r = await playbook('rolling_update', ['-e', 'rs_version=1.2.0'], 'inventory-lone.yml');
      expect(r.exitCode, r.output).toBe(2);
      const update = r.results.find((t) => t.task.startsWith('Update'))?.result;
      expect(update).toMatchObject({ outcome: 'failed', changed: false, error: { code: 'NO_USER_MANAGER' } });
      expect(update?.msg).toContain(
        `account rs-fleet-c (uid ${lone.uid}) has no user manager running: /run/user/${lone.uid}`,
      );
      expect(update?.msg).toContain('(hint: loginctl enable-linger rs-fleet-c');
      expect(update).not.toHaveProperty('exit_code'); // the CLI never ran
    }, 300_000);

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
      writeFileSync(
        join(dir, 'inventory-tags.yml'),
        `${HEAD}  children:\n    gateways:\n      hosts:\n${inventory((h) => ({ rs_spec: spec(h) }))}\n    canary:\n      hosts:\n        gw-a:\n`,
      );
      const roll = () => playbook('rolling_update', [], 'inventory-tags.yml');
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
  },
);
