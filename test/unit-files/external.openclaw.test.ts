// OpenClaw's external-supervisor contract on the real gateway (openclaw 2026.9.5, Node 24, its own unit under a private
// systemd --user, adopted): after `init --preset openclaw --adopt` + `unit --install` + a restart, the gateway runs in
// external mode, so the Control UI's "Update now" (update.run over the gateway's RPC) and `openclaw update` through
// <root>/bin/openclaw both refuse with OpenClaw's external-supervisor answer, the latter after a line naming
// release-switcher, and nothing under the root or the npm -g prefix changes.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import {
  OPENCLAW_UNIT as UNIT,
  openclawBench,
  openclawHealthy,
  REMOVE_TIMEOUT_MS,
  removeOpenclawBench,
  writeOpenclawService,
} from '../support/openclaw.ts';
import { copyOpenclaw } from '../support/openclaw-prepared.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';

const VERSION = '2026.9.5';
const TOKEN = 'external-mode-test-token';
const can = canRunUserManager();

/** Every entry under `dir` with its size and modification time (links by their own stat): what "unchanged" means. */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const file = path.join(at, name);
      const stat = lstatSync(file);
      out.push(`${path.relative(dir, file)} ${stat.mode} ${stat.isDirectory() ? '-' : stat.size} ${stat.mtimeMs}`);
      if (stat.isDirectory()) walk(file);
    }
  };
  walk(dir);
  return out.sort();
}

describeWhere(can, 'external-supervisor mode on the real openclaw gateway (adopted, private systemd --user)', () => {
  let um: UserManager;
  let node: string;
  let prefix: string;
  let port: number;
  const work = mkdtempSync(path.join(tmpdir(), 'rs-ocext-'));
  const root = path.join(work, 'root');
  // Its own state dir by a path no other gateway on the machine has: openclaw refuses to migrate a state dir it sees
  // another running gateway use, and every bound HOME is /root by path.
  const stateDir = () => path.join(um.env.HOME!, '.openclaw');
  const inNs = (args: string[]) =>
    execa('nsenter', ['-t', String(um.pid), '-m', 'env', `HOME=${userInfo().homedir}`, ...args], {
      env: { ...um.env, OPENCLAW_STATE_DIR: stateDir(), PATH: `${path.dirname(node)}:${um.env.PATH}` },
      extendEnv: false,
      reject: false,
      timeout: 180_000,
    });

  beforeAll(async () => {
    // The prepared `npm install -g` of 9.5 (one per machine) is copied (its files linked, root's: copyOpenclaw), never
    // used in place: the gateway first runs from it, and the test asserts that nothing changes in it.
    await copyOpenclaw(VERSION, path.join(work, 'prefix'), { link: true });
    ({ node, prefix, um } = await openclawBench({
      name: 'ocext',
      work,
      version: VERSION,
      prefix: path.join(work, 'prefix'),
    }));
    port = await freePort();
    await writeOpenclawService(um, { node, prefix, port });
    mkdirSync(path.join(um.unitDir, `${UNIT}.d`), { recursive: true });
    writeFileSync(
      path.join(um.unitDir, `${UNIT}.d`, 'state-dir.conf'),
      `[Service]\nEnvironment=OPENCLAW_STATE_DIR=${stateDir()}\n`,
    ); // A token, so the CLI may call the gateway's RPC as the Control UI does.
    writeFileSync(
      path.join(um.env.HOME!, '.openclaw', 'openclaw.json'),
      `{ gateway: { mode: 'local', port: ${port}, bind: 'loopback', auth: { mode: 'token', token: '${TOKEN}' } } }\n`,
    );
    expect((await um.systemctl(['daemon-reload'])).exitCode).toBe(0);
    expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
    const first = await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 });
    const env = um.env as Record<string, string>;
    const installed = path.join(prefix, 'lib', 'node_modules', 'openclaw');
    const init = await cli(['--root', root, 'init', '--preset', 'openclaw', '--adopt', installed, '--node', node], {
      env,
      timeout: 900_000,
      as: null, // as root: this file's gateway still runs as root (the normal account's case is finalize.openclaw)
    });
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const unit = await cli(['--root', root, 'unit', '--install'], { env, as: null });
    expect(unit.exitCode, unit.stdout + unit.stderr).toBe(0);
    expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
    await openclawHealthy(um, { port, pid: first.pid, timeoutMs: 300_000 });
  }, 1_800_000);

  afterAll(() => removeOpenclawBench(um, work), REMOVE_TIMEOUT_MS);

  it('update.run over the RPC and `openclaw update` refuse; the root and the npm -g prefix stay as they were', async () => {
    const serving = await openclawHealthy(um, { port, pid: null, timeoutMs: 60_000 });
    const environ = readFileSync(`/proc/${serving.pid}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(
      expect.arrayContaining(['OPENCLAW_SUPERVISOR_MODE=external', 'OPENCLAW_SERVICE_REPAIR_POLICY=external']),
    );
    expect(environ.some((e) => e.startsWith('OPENCLAW_NO_RESPAWN='))).toBe(false);
    const before = { root: fingerprint(root), prefix: fingerprint(prefix) };
    const command = path.join(root, 'bin', 'openclaw');

    // The Control UI's "Update now": the gateway answers that an external supervisor owns updates, and restarts nothing.
    const rpc = await inNs([command, 'gateway', 'call', 'update.run', '--json', '--token', TOKEN]);
    console.log(`openclaw gateway call update.run (exit ${rpc.exitCode}):\n${rpc.stdout}\n${rpc.stderr}`);
    expect(rpc.stdout).toMatch(/"reason": "external-supervisor-update-required"/);
    expect(rpc.stdout).toMatch(/"restart": null/);

    // `openclaw update` from a shell: our line first, then OpenClaw's own refusal, exit 1.
    const update = await inNs([command, 'update', '--yes']);
    console.log(`openclaw update --yes (exit ${update.exitCode}):\n${update.stdout}\n${update.stderr}`);
    expect(update.exitCode).toBe(1);
    expect(update.stderr).toContain(
      `This openclaw is run by release-switcher (root ${root}); update it with: release-switcher --root ${root} update`,
    );
    expect(update.stderr).toContain(
      'OpenClaw self-update is disabled while gateway lifecycle is managed by an external supervisor',
    );

    expect({ root: fingerprint(root), prefix: fingerprint(prefix) }).toEqual(before);
    // Still the same gateway: nothing restarted it.
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 60_000 })).pid).toBe(serving.pid);
  }, 600_000);
});
