// The pnpm install shape on the real package (issue 33): openclaw 2026.9.5 installed with `pnpm add -g` (the way
// OpenClaw's Ansible role installs it: `pnpm install -g openclaw@latest`), its gateway run by a unit through pnpm's
// shim (`$PNPM_HOME/openclaw gateway`, Node from the unit's PATH, the port only in openclaw.json), all as the suite's
// normal account under a private systemd --user. Adopt cannot copy pnpm's folder (its dependencies live in pnpm's
// store): it stages 9.5 from the registry with npm's tree and proves it the same package; the unit keeps the shim's
// Node, file and arguments (no --port added); an update to 9.6 with @openclaw/matrix installed, the rollback, doctor
// and --link-bin over pnpm's shim go as they do for an npm -g install.
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asAccount, defaultTestAccount, nodeFor } from '../support/accounts.ts';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import { accountCliEnv, cli, cliEnv, runnableBy } from '../support/cli.ts';
import {
  accountNpmCache,
  giveTo,
  OPENCLAW_UNIT as UNIT,
  REMOVE_TIMEOUT_MS,
  SHORT_WINDOWS,
  openclawHealthy,
  openclawManager,
  openclawWork,
  removeOpenclawBench,
} from '../support/openclaw.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const PROJECT = path.resolve(import.meta.dirname, '../..');
const PLUGIN = '@openclaw/matrix';
const PLUGIN_ID = 'matrix';

describeWhere(
  canRunUserManager(),
  'the pnpm install shape on the real openclaw (systemd --user, normal account)',
  () => {
    const account = defaultTestAccount();
    const work = openclawWork('rs-ocpnpm-', account);
    const root = path.join(work, 'root');
    const pnpmHome = path.join(work, 'pnpm');
    let um: UserManager;
    let node: string;
    let port: number;
    let npmCache: string;
    let installed: string;
    const state = () => path.join(um.env.HOME!, '.openclaw');
    const env = () => ({
      ...(um.env as Record<string, string>),
      OPENCLAW_STATE_DIR: state(),
      npm_config_cache: npmCache,
      npm_config_logs_dir: path.join(work, 'npm-logs'),
      ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
    });
    const rs = (args: string[], timeout = 1_200_000) =>
      cli(['--root', root, '--json', ...args], { env: env(), timeout });
    /** A command as the account runs it, with the manager's environment (not the worker's: VITEST silences openclaw). */
    const asUser = (command: string, args: string[], extra: Record<string, string> = {}) => {
      const [file, argv] = um.account ? asAccount(um.account, command, args) : [command, args];
      return execa(file, argv, {
        env: um.account ? accountCliEnv(um.account, { ...env(), ...extra }) : cliEnv({ ...env(), ...extra }),
        extendEnv: false,
        reject: false,
        timeout: 900_000,
      });
    };
    const pluginSeen = async () => {
      const inspected = await asUser(path.join(root, 'bin', 'openclaw'), ['plugins', 'inspect', PLUGIN_ID, '--json']);
      expect(inspected.exitCode, inspected.stdout.slice(-2000) + inspected.stderr.slice(-2000)).toBe(0);
      const plugin = JSON.parse(inspected.stdout.slice(inspected.stdout.indexOf('{'))).plugin;
      return { version: plugin.version, status: plugin.status };
    };
    const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());

    beforeAll(async () => {
      console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
      npmCache = await accountNpmCache(work, path.join(PROJECT, '.bench-cache', 'npm-openclaw'), account);
      // Node 24 and a manager of the account's; no npm -g install (the install is pnpm's).
      node = nodeFor(account, process.env.BENCH_NODE24 ?? (await ensureServiceNode()).node);
      um = await openclawManager('ocpnpm', account);
      // pnpm as the account, on Node 24, into a PNPM_HOME of its own (pnpm 10: the package in global/5/.pnpm/…).
      const pnpm = path.join(runnableBy(account!).packageDir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
      const pnpmEnv = { PNPM_HOME: pnpmHome, PATH: `${path.dirname(node)}:${pnpmHome}:/usr/bin:/bin` };
      const added = await asUser(
        node,
        [pnpm, 'add', '-g', `--store-dir=${path.join(work, 'pnpm-store')}`, `openclaw@${FROM}`],
        pnpmEnv,
      );
      expect(added.exitCode, added.stdout.slice(-2000) + added.stderr.slice(-2000)).toBe(0);
      const globalRoot = (await asUser(node, [pnpm, 'root', '-g'], pnpmEnv)).stdout.trim();
      installed = path.join(globalRoot, 'openclaw');
      // The user's config names the port; the unit runs pnpm's shim with Node 24 first on its PATH.
      port = await freePort();
      mkdirSync(state(), { recursive: true });
      writeFileSync(
        path.join(state(), 'openclaw.json'),
        `{\n  gateway: { mode: 'local', port: ${port}, bind: 'loopback' },\n}\n`,
      );
      await giveTo(um.account, state());
      await um.writeUnit(
        UNIT,
        [
          '[Unit]',
          'Description=OpenClaw Gateway (pnpm)',
          '[Service]',
          `ExecStart=${path.join(pnpmHome, 'openclaw')} gateway`,
          'Restart=always',
          'RestartSec=5',
          'TimeoutStopSec=330',
          'KillMode=mixed',
          `Environment=HOME=${um.account?.home ?? um.env.HOME}`,
          `Environment=PATH=${path.dirname(node)}:${pnpmHome}:/usr/bin:/bin`,
          `Environment=OPENCLAW_STATE_DIR=${state()}`,
          // As openclaw's own `gateway install` writes it: the gateway's npm (plugins) trusts the machine's CA.
          ...(process.env.NODE_EXTRA_CA_CERTS
            ? [`Environment=NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`]
            : []),
          '[Install]',
          'WantedBy=default.target',
          '',
        ].join('\n'),
      );
      expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
      expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 })).version).toBe(FROM);
    }, 1_800_000);

    afterAll(() => removeOpenclawBench(um, work), REMOVE_TIMEOUT_MS);

    it('adopt restages and proves, the unit keeps the shim’s Node and arguments, update with a plugin, rollback, doctor, --link-bin over the shim', async () => {
      const shim = path.join(pnpmHome, 'openclaw');
      const init = await rs(['init', '--preset', 'openclaw', ...SHORT_WINDOWS, '--adopt', installed, '--unit', UNIT]);
      console.log(`init --adopt of pnpm's install:\n${JSON.stringify(init.json?.result?.adopted, null, 2)}`);
      expect(init.exitCode, init.stdout.slice(-3000) + init.stderr.slice(-3000)).toBe(0);
      const adopted = init.json.result.adopted;
      expect(adopted.restaged).toMatchObject({
        why: expect.stringContaining('is outside it'),
        integrity: expect.any(String),
      });
      expect(adopted.restaged.proven).toBeGreaterThan(1000);
      expect(adopted.found.port).toEqual({ port, from: expect.stringContaining('gateway.port') });
      expect(init.json.result.config.node).toBe(node); // the Node the shim finds on the unit's PATH
      expect(adopted.commands[0].runsAdopted).toContainEqual({ path: shim, kind: 'script' });
      expect(existsSync(path.join(root, 'releases', FROM, 'node_modules'))).toBe(true);

      const unit = await rs(['unit', '--install']);
      expect(unit.exitCode, unit.stdout + unit.stderr).toBe(0);
      expect(unit.json.result.changed.join('\n')).toContain(`ExecStart: ${shim} (runs `);
      expect(unit.json.result.kept).toEqual(expect.arrayContaining(['arguments: gateway']));
      expect(unit.json.result.content).not.toMatch(/--port|18789/);
      const before = await mainPid();
      expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
      const moved = await openclawHealthy(um, { port, pid: before, timeoutMs: 300_000 });
      expect(moved.version).toBe(FROM);
      // openclaw renames its process title (`openclaw-gateway`), so the command is read from the unit as the manager
      // runs it, and the Node from the process itself.
      const entry = path.join(root, 'current', 'openclaw.mjs');
      expect(unit.json.result.content).toContain(`\nExecStart=${node} ${entry} gateway\n`);
      const shown = (await um.systemctl(['show', '-p', 'ExecStart', '--value', UNIT])).stdout;
      expect(shown).toContain(`argv[]=${node} ${entry} gateway ;`);
      expect(realpathSync(`/proc/${moved.pid}/exe`)).toBe(realpathSync(node));

      const plugin = await asUser(path.join(root, 'bin', 'openclaw'), ['plugins', 'install', PLUGIN]);
      expect(plugin.exitCode, plugin.stdout.slice(-2000) + plugin.stderr.slice(-2000)).toBe(0);
      expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });

      const updated = await rs(['update', `openclaw@${TO}`, '--no-preflight']);
      console.log(
        `update (load ${loadavg()[0]!.toFixed(1)}): ${updated.json?.result?.status}, window ${JSON.stringify(updated.json?.result?.window)}`,
      );
      expect(updated.json?.result?.status, updated.stdout.slice(-3000) + updated.stderr.slice(-3000)).toBe('verified');
      expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(TO);
      expect(await pluginSeen()).toEqual({ version: TO, status: 'loaded' });

      const back = await rs(['rollback']);
      console.log(
        `rollback (load ${loadavg()[0]!.toFixed(1)}): ${back.json?.result?.status}, window ${JSON.stringify(back.json?.result?.window)}`,
      );
      expect(back.json?.result?.status, back.stdout.slice(-3000) + back.stderr.slice(-3000)).toBe('verified');
      expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
      expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded' });

      const doctor = await rs(['doctor', '--deep']);
      console.log(
        `doctor --deep: ${JSON.stringify(doctor.json?.result?.checks?.map((c: { name: string; ok: boolean }) => [c.name, c.ok]))}`,
      );
      // Every check of the root, the releases and the unit passes. Not `linger` (whether the account's user manager
      // outlives its logins: this one is a private manager the test started, not the account's login manager).
      const failing = (doctor.json?.result?.checks ?? []).filter((c: { ok: boolean }) => !c.ok);
      expect(failing.map((c: { name: string }) => c.name).filter((n: string) => n !== 'linger')).toEqual([]);
      expect(doctor.json.result.checks.find((c: { name: string }) => c.name === 'loads')).toMatchObject({ ok: true });

      // The command the user types (pnpm's shim on PATH) runs current once linked; unlinked, pnpm's shim is back as it was.
      const shimText = readFileSync(shim, 'utf8');
      expect((await rs(['init', '--link-bin'])).exitCode).toBe(0);
      expect((await asUser(shim, ['--version'])).stdout).toContain(FROM);
      expect((await rs(['init', '--unlink-bin'])).exitCode).toBe(0);
      expect(readFileSync(shim, 'utf8')).toBe(shimText);
    }, 2_400_000);
  },
);
