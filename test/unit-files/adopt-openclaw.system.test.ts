// Adopting a running OpenClaw-shaped install under a real private systemd --user, the way openclaw's own
// `gateway install` writes its unit: a Node option, a non-default port in the arguments and the environment, a
// long stop budget. After `init --preset openclaw --adopt` + `unit --install` + a restart, the service must run
// exactly as before, only through <root>/current.
import { execFileSync } from 'node:child_process';
import { describeWhere } from '../support/skip.ts';
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { cli, tempDir } from '../support/cli.ts';
import { defaultTestAccount, nodeFor } from '../support/accounts.ts';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import { freePort } from '../support/service.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

// json5's one-file build, copied into each fake install: the service runs as the test account, which cannot reach
// the checkout's node_modules when the checkout sits in a private folder (a clone under /root or a `mktemp -d`).
const JSON5_DIST = path.join(
  path.dirname(createRequire(import.meta.url).resolve('json5/package.json')),
  'dist',
  'index.js',
);
/** The Node the units run, as the manager's account can reach it (CI's Node 26 lives inside the checkout). */
const serviceNode = () => nodeFor(defaultTestAccount(), process.execPath);
const support = canRunUserManager();
const title = 'adopting an openclaw-shaped unit under a private systemd --user';
if (!support.ok) console.warn(`skipping ${title}: ${support.why}`);

/** `npm install -g` layout of a tiny package named openclaw: dist/index.js `gateway --port N` serves /startupz. */
function fakeOpenclaw(prefix: string, version: string): string {
  const dir = path.join(prefix, 'lib', 'node_modules', 'openclaw');
  mkdirSync(path.join(dir, 'dist'), { recursive: true });
  copyFileSync(JSON5_DIST, path.join(dir, 'dist', 'json5.js'));
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'openclaw', version, main: 'dist/index.js', bin: { openclaw: 'openclaw.mjs' } }),
  );
  writeFileSync(path.join(dir, 'openclaw.mjs'), "#!/usr/bin/env node\nimport './dist/index.js';\n", { mode: 0o755 });
  // The port as openclaw takes it: --port, else OPENCLAW_GATEWAY_PORT, else gateway.port of its JSON5 config.
  writeFileSync(
    path.join(dir, 'dist', 'index.js'),
    `const args = process.argv.slice(2);
if (args[0] === '--version') { console.log(${JSON.stringify(version)}); process.exit(0); }
const fromConfig = () => {
  const file = require('node:path').join(process.env.OPENCLAW_STATE_DIR || require('node:path').join(process.env.HOME, '.openclaw'), 'openclaw.json');
  return require('./json5.js').parse(require('node:fs').readFileSync(file, 'utf8')).gateway.port;
};
const port = args.includes('--port') ? Number(args[args.indexOf('--port') + 1]) : Number(process.env.OPENCLAW_GATEWAY_PORT || fromConfig());
require('node:http').createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(req.url === '/startupz' ? { ok: true, status: 'started', version: ${JSON.stringify(version)}, pid: process.pid } : { error: 'not found' }));
}).listen(port, '127.0.0.1');
`,
  );
  return dir;
}

describeWhere(support, title, () => {
  let um: UserManager;
  beforeAll(async () => {
    um = await startUserManager({ name: 'adoptoc' });
  }, 30_000);
  afterAll(() => um?.stop(), 30_000);
  beforeEach(({ onTestFailed }) =>
    onTestFailed(async () => console.error(`--- manager log ---\n${await um.readLog()}`)),
  );

  const show = async (props: string[]) => {
    const r = await um.systemctl(['show', 'openclaw-gateway.service', ...props.map((p) => `--property=${p}`)]);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  };
  async function answer(port: number): Promise<{ version: string; pid: number }> {
    let body: { version: string; pid: number } | undefined;
    await um.waitFor(
      async () => {
        body = await fetch(`http://127.0.0.1:${port}/startupz`)
          .then((r) => r.json() as Promise<typeof body>)
          .catch(() => undefined);
        return body !== undefined;
      },
      { what: `the gateway on ${port}` },
    );
    return body!;
  }

  /** Restart the unit and wait for another process than `before` on `port`: its answer and its command line. */
  async function restarted(port: number, before: { pid: number }, what = 'the restarted gateway') {
    expect((await um.systemctl(['restart', 'openclaw-gateway.service'])).exitCode).toBe(0);
    let after = before;
    await um.waitFor(
      async () => {
        after = await answer(port);
        return after.pid !== before.pid;
      },
      { what },
    );
    return { after, argv: readFileSync(`/proc/${after.pid}/cmdline`, 'utf8').split('\0').slice(0, -1) };
  }

  it('keeps the port, the Node options and the stop budget; the health URL gets the real port; doctor checks it', async () => {
    const dir = tempDir('rs-adopt-oc-');
    const installed = fakeOpenclaw(path.join(dir, 'prefix'), '2026.9.5');
    const root = path.join(dir, 'root');
    const port = await freePort();
    const env = { ...(um.env as Record<string, string>), RELEASE_SWITCHER_BOOT_CHECK: '["/bin/true"]' };
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });
    const log = path.join(dir, 'gateway.log');
    await um.writeUnit(
      'openclaw-gateway.service',
      [
        '[Unit]',
        'Description=OpenClaw Gateway',
        'StartLimitIntervalSec=0',
        '',
        '[Service]',
        `ExecStart=${serviceNode()} --max-old-space-size=256 ${installed}/dist/index.js gateway --port ${port}`,
        'Restart=always',
        'RestartSec=5',
        'TimeoutStopSec=330',
        'KillMode=mixed',
        'RestartPreventExitStatus=78',
        `Environment=OPENCLAW_GATEWAY_PORT=${port} "OPENCLAW_SERVICE_MARKER=openclaw gateway"`,
        `StandardOutput=append:${log}`,
        `StandardError=append:${log}`,
        '',
        '[Install]',
        'WantedBy=default.target',
        '',
      ].join('\n'),
    );
    expect((await um.systemctl(['start', 'openclaw-gateway.service'])).exitCode).toBe(0);
    const before = await answer(port);

    const init = await rs([
      'init',
      '--preset',
      'openclaw',
      '--adopt',
      installed,
      '--node',
      serviceNode(),
      '--unit',
      'openclaw-gateway.service',
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    expect(init.json.result.adopted.found).toMatchObject({
      port: { port, from: `ExecStart --port ${port}` },
      nodeOptions: ['--max-old-space-size=256'],
      timeoutStopSeconds: 330,
      restartSeconds: 5,
    });
    expect(init.json.result.config.healthUrl).toBe(`http://127.0.0.1:${port}/startupz`);
    expect(JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8')).healthUrl).toBe(
      `http://127.0.0.1:${port}/startupz`,
    );
    // The npm -g command keeps running the adopted copy; <root>/bin/openclaw runs current.
    expect(init.json.result.adopted.commands).toEqual([
      {
        name: 'openclaw',
        path: path.join(root, 'bin', 'openclaw'),
        npmLink: path.join(dir, 'prefix', 'bin', 'openclaw'),
        runsAdopted: [], // this prefix has no bin/ (npm's link) and no wrapper
      },
    ]);
    // Running init with the preset again keeps the port adopt found.
    expect((await rs(['init', '--preset', 'openclaw'])).json.result.config.healthUrl).toBe(
      `http://127.0.0.1:${port}/startupz`,
    );
    // What a person sees (a second root adopting the same install).
    const other = path.join(dir, 'root2');
    const human = await cli(
      ['--root', other, 'init', '--preset', 'openclaw', '--adopt', installed, '--node', serviceNode()],
      { env },
    );
    expect(human.exitCode, human.stderr).toBe(0);
    expect(human.stdout).toContain(
      `port ${port} (ExecStart --port ${port}); Node options --max-old-space-size=256; TimeoutStopSec 330; RestartSec 5`,
    );
    expect(human.stdout).toContain(`health URL set to http://127.0.0.1:${port}/startupz`);
    expect(human.stdout).toContain(
      `${path.join(dir, 'prefix', 'bin', 'openclaw')} (npm -g) still runs the adopted copy`,
    );
    expect(human.stdout).toContain(`export PATH="${other}/bin:$PATH"`);
    expect(readFileSync(path.join(other, 'bin', 'openclaw'), 'utf8')).toContain(
      `exec '${serviceNode()}' '${other}/current/openclaw.mjs' "$@"`,
    );
    // The root's command runs in OpenClaw's external-supervisor mode and names who updates it.
    const wrapper = readFileSync(path.join(other, 'bin', 'openclaw'), 'utf8');
    expect(wrapper).toContain("OPENCLAW_SUPERVISOR_MODE='external'; export OPENCLAW_SUPERVISOR_MODE");
    expect(wrapper).toContain("OPENCLAW_SERVICE_REPAIR_POLICY='external'; export OPENCLAW_SERVICE_REPAIR_POLICY");
    expect(wrapper).not.toContain('OPENCLAW_NO_RESPAWN');
    expect((await answer(port)).pid).toBe(before.pid); // adopting did not touch the running gateway

    const installedUnit = await rs(['unit', '--install']);
    expect(installedUnit.exitCode, installedUnit.stdout + installedUnit.stderr).toBe(0);
    const { content, kept, changed } = installedUnit.json.result;
    console.log(
      `drop-in written for the openclaw-shaped unit:\n${content}\nkept: ${kept.join('; ')}\nchanged: ${changed.join('; ')}`,
    );
    expect(kept).toEqual(
      expect.arrayContaining([
        'Restart=always',
        'RestartSec=5',
        'RestartPreventExitStatus=78',
        'Node options: --max-old-space-size=256',
        `arguments: gateway --port ${port}`,
      ]),
    );
    expect(kept.join('\n')).toMatch(/TimeoutStopSec=330/);
    expect(changed.join('\n')).toContain(`ExecStart: ${installed}/dist/index.js -> ${root}/current/dist/index.js`);
    expect(changed).toEqual(
      expect.arrayContaining([
        'Environment=OPENCLAW_SUPERVISOR_MODE=external',
        'Environment=OPENCLAW_SERVICE_REPAIR_POLICY=external',
      ]),
    );
    expect(content).not.toMatch(/TimeoutStopSec|RestartSec|18789/);

    const { after, argv } = await restarted(port, before);
    expect(argv).toEqual([
      serviceNode(),
      '--max-old-space-size=256',
      path.join(root, 'current', 'dist', 'index.js'),
      'gateway',
      '--port',
      String(port),
    ]);
    const environ = readFileSync(`/proc/${after.pid}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(
      expect.arrayContaining([
        `OPENCLAW_GATEWAY_PORT=${port}`,
        'OPENCLAW_SERVICE_MARKER=openclaw gateway',
        'OPENCLAW_SUPERVISOR_MODE=external',
        'OPENCLAW_SERVICE_REPAIR_POLICY=external',
      ]),
    );
    expect(environ.some((e) => e.startsWith('OPENCLAW_NO_RESPAWN='))).toBe(false);
    expect(await show(['TimeoutStopUSec', 'RestartUSec', 'KillMode', 'RestartPreventExitStatus', 'MainPID'])).toEqual({
      TimeoutStopUSec: '5min 30s',
      RestartUSec: '5s',
      KillMode: 'mixed',
      RestartPreventExitStatus: '78',
      MainPID: String(after.pid),
    });

    const doctor = await rs(['doctor']);
    expect(
      doctor.json.result.checks.find((c: { name: string }) => c.name === 'health'),
      doctor.stdout,
    ).toMatchObject({ ok: true });
    // A service that is not on the configured port fails the check, although systemd says active.
    const elsewhere = await freePort();
    expect((await rs(['init', '--health-url', `http://127.0.0.1:${elsewhere}/startupz`])).exitCode).toBe(0);
    const moved = await rs(['doctor']);
    expect(moved.json.result.checks.find((c: { name: string }) => c.name === 'health')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/nothing answers/),
    });
  }, 90_000);
  it("takes the port from openclaw's own config (JSON5, in OPENCLAW_STATE_DIR) when the unit names none; raises a short stop budget to openclaw's 330 s", async () => {
    const dir = tempDir('rs-adopt-occfg-');
    const installed = fakeOpenclaw(path.join(dir, 'prefix'), '2026.9.5');
    const root = path.join(dir, 'root');
    const port = await freePort();
    const state = path.join(dir, 'state');
    mkdirSync(state, { recursive: true });
    const config = path.join(state, 'openclaw.json');
    writeFileSync(config, `// written by hand\n{\n  gateway: { mode: 'local', port: ${port}, },\n}\n`);
    const env = { ...(um.env as Record<string, string>), RELEASE_SWITCHER_BOOT_CHECK: '["/bin/true"]' };
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });
    rmSync(path.join(um.unitDir, 'openclaw-gateway.service.d'), { recursive: true, force: true }); // an earlier test's drop-in
    await um.writeUnit(
      'openclaw-gateway.service',
      [
        '[Unit]',
        'Description=OpenClaw Gateway',
        '',
        '[Service]',
        `ExecStart=${serviceNode()} ${installed}/dist/index.js gateway`,
        'Restart=always',
        'RestartSec=5',
        'TimeoutStopSec=90',
        'KillMode=mixed',
        'RestartPreventExitStatus=78',
        `Environment=OPENCLAW_STATE_DIR=${state}`,
        '',
        '[Install]',
        'WantedBy=default.target',
        '',
      ].join('\n'),
    );
    expect((await um.systemctl(['restart', 'openclaw-gateway.service'])).exitCode).toBe(0);
    const before = await answer(port);

    const init = await rs([
      'init',
      '--preset',
      'openclaw',
      '--adopt',
      installed,
      '--node',
      serviceNode(),
      '--unit',
      'openclaw-gateway.service',
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    expect(init.json.result.adopted.found).toMatchObject({
      port: { port, from: `config ${config} gateway.port` },
      portNotes: [],
    });
    expect(init.json.result.config.healthUrl).toBe(`http://127.0.0.1:${port}/startupz`);

    const installedUnit = await rs(['unit', '--install']);
    expect(installedUnit.exitCode, installedUnit.stdout + installedUnit.stderr).toBe(0);
    expect(installedUnit.json.result.content).toContain(
      `\nExecStart=${serviceNode()} ${root}/current/dist/index.js gateway\n`,
    );
    expect(installedUnit.json.result.content).toContain('\nTimeoutStopSec=330\n');
    expect(installedUnit.json.result.changed.join('\n')).toMatch(/TimeoutStopSec 90 s -> 330 s/);
    expect((await show(['TimeoutStopUSec'])).TimeoutStopUSec).toBe('5min 30s');
    const { argv } = await restarted(port, before, 'the restarted gateway on the port of its config');
    expect(argv).toEqual([serviceNode(), path.join(root, 'current', 'dist', 'index.js'), 'gateway']);
    const doctor = await rs(['doctor']);
    expect(
      doctor.json.result.checks.find((c: { name: string }) => c.name === 'health'),
      doctor.stdout,
    ).toMatchObject({ ok: true });
  }, 90_000);

  it('keeps the working directory: a unit without WorkingDirectory= runs in $HOME after unit --install + restart; drift still judged by start time (cwd outside the root is no evidence)', async () => {
    const dir = tempDir('rs-adopt-occwd-');
    const installed = fakeOpenclaw(path.join(dir, 'prefix'), '2026.9.5');
    // The next version as a tarball, to flip `current` to without a restart.
    fakeOpenclaw(path.join(dir, 'next'), '2026.9.6');
    const tgz = path.join(dir, 'openclaw-2026.9.6.tgz');
    execFileSync('tar', [
      '-czf',
      tgz,
      '-C',
      path.join(dir, 'next', 'lib', 'node_modules'),
      '--transform',
      's,^openclaw,package,',
      'openclaw',
    ]);
    const root = path.join(dir, 'root');
    const port = await freePort();
    const env = { ...(um.env as Record<string, string>), RELEASE_SWITCHER_BOOT_CHECK: '["/bin/true"]' };
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });
    const drift = async () =>
      (await rs(['doctor'])).json.result.checks.find((c: { name: string }) => c.name === 'drift');
    rmSync(path.join(um.unitDir, 'openclaw-gateway.service.d'), { recursive: true, force: true }); // an earlier test's drop-in
    await um.writeUnit(
      'openclaw-gateway.service',
      [
        '[Unit]',
        'Description=OpenClaw Gateway',
        '',
        '[Service]',
        `ExecStart=${serviceNode()} ${installed}/dist/index.js gateway --port ${port}`,
        'Restart=always',
        'RestartSec=5',
        'TimeoutStopSec=330',
        'KillMode=mixed',
        'RestartPreventExitStatus=78',
        '',
        '[Install]',
        'WantedBy=default.target',
        '',
      ].join('\n'),
    );
    expect((await um.systemctl(['restart', 'openclaw-gateway.service'])).exitCode).toBe(0);
    const before = await answer(port);
    const home = realpathSync(um.env.HOME!);
    expect(readlinkSync(`/proc/${before.pid}/cwd`)).toBe(home); // systemd's default for a user service

    expect(
      (
        await rs([
          'init',
          '--preset',
          'openclaw',
          '--adopt',
          installed,
          '--node',
          serviceNode(),
          '--unit',
          'openclaw-gateway.service',
        ])
      ).exitCode,
    ).toBe(0);
    const written = await rs(['unit', '--install']);
    expect(written.exitCode, written.stdout + written.stderr).toBe(0);
    expect(written.json.result.content).not.toMatch(/WorkingDirectory/);
    expect(written.json.result.kept).toContain(
      "WorkingDirectory: none (systemd's default: the user's home for a user service, / for a system one)",
    );
    const { after, argv } = await restarted(port, before);
    expect(argv[1]).toBe(path.join(root, 'current', 'dist', 'index.js'));
    expect(readlinkSync(`/proc/${after.pid}/cwd`)).toBe(home);

    // Drift, by the health endpoint and (health URL off) by start time: the cwd names no release, the command line only current.
    expect(await drift()).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/runs 2026\.9\.5, the current release \(its health endpoint says so\)/),
    });
    const configPath = path.join(root, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    // No health URL (the preset's rehearsal is probed there, so it goes too): what runs is told by start time.
    writeFileSync(configPath, JSON.stringify({ ...config, healthUrl: null, preflight: null }));
    expect((await rs(['status'])).json.result.running).toMatchObject({
      version: '2026.9.5',
      pid: after.pid,
      source: 'start-time',
      stale: false,
    });
    expect(await drift()).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/runs 2026\.9\.5, the current release \(it started .* after current was flipped\)/),
    });

    // A flip without a restart: drift fails, by start time and by the health endpoint.
    const added = await rs(['install', tgz]);
    expect(added.exitCode, added.stdout + added.stderr).toBe(0);
    expect((await rs(['init', '--supervisor', 'none'])).exitCode).toBe(0);
    const switched = await rs(['switch', '2026.9.6']);
    expect(switched.json?.result?.status, switched.stdout + switched.stderr).toBe('switched');
    expect((await rs(['init', '--supervisor', 'systemd'])).exitCode).toBe(0);
    expect((await rs(['status'])).json.result.running).toMatchObject({
      version: '2026.9.5',
      pid: after.pid,
      source: 'journal',
      stale: true,
    });
    expect(await drift()).toMatchObject({
      ok: false,
      detail: expect.stringMatching(
        /runs 2026\.9\.5 but current is 2026\.9\.6: updated but not restarted .*systemctl --user restart openclaw-gateway\.service/,
      ),
    });
    writeFileSync(
      configPath,
      JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), healthUrl: config.healthUrl }),
    );
    expect(await drift()).toMatchObject({
      ok: false,
      detail: expect.stringMatching(
        /runs 2026\.9\.5 but current is 2026\.9\.6: updated but not restarted \(its health endpoint says so\)/,
      ),
    });
  }, 120_000);

  it("a unit that runs install-cli.sh's wrapper (`<prefix>/bin/openclaw gateway`, its own Node) keeps the wrapper's Node, its file and its arguments; the port stays the config's", async () => {
    // install-cli.sh's layout: a private Node in <prefix>/tools/node-v<version> (alias tools/node), the package
    // installed with that Node's npm into the Node's own folder, and the wrapper it writes to <prefix>/bin/openclaw.
    const dir = tempDir('rs-adopt-ocwrap-');
    const prefix = path.join(dir, 'dot-openclaw');
    const nodeDir = path.join(prefix, 'tools', 'node-v24.19.0');
    mkdirSync(path.join(nodeDir, 'bin'), { recursive: true });
    // The preset needs Node 24: the private Node is the one adopt must take (no --node given).
    symlinkSync(nodeFor(defaultTestAccount(), (await ensureServiceNode()).node), path.join(nodeDir, 'bin', 'node'));
    symlinkSync(nodeDir, path.join(prefix, 'tools', 'node'));
    const installed = fakeOpenclaw(nodeDir, '2026.9.5');
    const privateNode = path.join(prefix, 'tools', 'node', 'bin', 'node');
    const wrapper = path.join(prefix, 'bin', 'openclaw');
    mkdirSync(path.dirname(wrapper));
    writeFileSync(
      wrapper,
      `#!/usr/bin/env bash\nset -euo pipefail\nexec "${privateNode}" "${installed}/dist/index.js" "$@"\n`,
      { mode: 0o755 },
    );
    // install-cli.sh runs as the user: the prefix is the user's own.
    const who = defaultTestAccount();
    if (who) execFileSync('chown', ['-R', '-h', `${who.uid}:${who.gid}`, prefix]);
    const root = path.join(dir, 'root');
    const port = await freePort();
    const state = prefix; // install-cli.sh's default prefix is the state dir itself (~/.openclaw)
    writeFileSync(path.join(state, 'openclaw.json'), `{ gateway: { port: ${port} } }\n`);
    const env = { ...(um.env as Record<string, string>), RELEASE_SWITCHER_BOOT_CHECK: '["/bin/true"]' };
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });
    rmSync(path.join(um.unitDir, 'openclaw-gateway.service.d'), { recursive: true, force: true }); // an earlier test's drop-in
    await um.writeUnit(
      'openclaw-gateway.service',
      [
        '[Service]',
        `ExecStart=${wrapper} gateway`,
        `Environment=OPENCLAW_STATE_DIR=${state}`,
        'Restart=always',
        '',
      ].join('\n'),
    );
    expect((await um.systemctl(['restart', 'openclaw-gateway.service'])).exitCode).toBe(0);
    const before = await answer(port);
    const init = await rs(['init', '--preset', 'openclaw', '--adopt', installed, '--unit', 'openclaw-gateway.service']);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    expect(init.json.result.adopted.found.port).toEqual({ port, from: expect.stringContaining('gateway.port') });
    expect(init.json.result.config.healthUrl).toBe(`http://127.0.0.1:${port}/startupz`);
    expect(init.json.result.config.node).toBe(privateNode); // staging, the rehearsal and the unit keep the service's Node
    // The Node, the package and the wrapper's folder are the install, not state: kept out of checkpoints and rehearsals.
    const keptOut = [path.join(prefix, 'bin'), path.join(prefix, 'tools')];
    expect(init.json.result.adopted.keptOut).toEqual(keptOut);
    expect(JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8')).independentPaths).toEqual(keptOut);
    expect(init.json.result.config.independentPaths).toEqual(keptOut);
    // The command users type is the wrapper: found, and --link-bin points it at the root's command, reversibly.
    expect(init.json.result.adopted.commands[0].runsAdopted).toEqual([{ path: wrapper, kind: 'script' }]);
    const wrapperText = readFileSync(wrapper, 'utf8');
    const linked = await rs(['init', '--link-bin']);
    expect(linked.exitCode, linked.stdout + linked.stderr).toBe(0);
    expect(readlinkSync(wrapper)).toBe(path.join(root, 'bin', 'openclaw'));
    expect(execFileSync(wrapper, ['--version'], { encoding: 'utf8' }).trim()).toBe('2026.9.5');
    expect((await rs(['init', '--unlink-bin'])).exitCode).toBe(0);
    expect(readFileSync(wrapper, 'utf8')).toBe(wrapperText);
    expect(statSync(wrapper).mode & 0o777).toBe(0o755);
    const unit = await rs(['unit', '--install']);
    expect(unit.exitCode, unit.stdout + unit.stderr).toBe(0);
    const { content, kept, changed } = unit.json.result;
    expect(changed).toContain(
      `ExecStart: ${wrapper} (runs ${installed}/dist/index.js) -> ${path.join(root, 'current', 'dist', 'index.js')}`,
    );
    expect(kept).toEqual(
      expect.arrayContaining([`Node: ${privateNode} (the one ${wrapper} runs)`, 'arguments: gateway']),
    );
    expect(content).not.toMatch(/--port|18789/); // the config's port is not overridden
    const { argv } = await restarted(port, before);
    expect(argv).toEqual([privateNode, path.join(root, 'current', 'dist', 'index.js'), 'gateway']);
  }, 90_000);
  it('a unit written from scratch for openclaw stops within 330 s too', async () => {
    const dir = tempDir('rs-adopt-ocnew-');
    const root = path.join(dir, 'root');
    const env = { ...(um.env as Record<string, string>), RELEASE_SWITCHER_BOOT_CHECK: '["/bin/true"]' };
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });
    expect(
      (await rs(['init', '--preset', 'openclaw', '--node', serviceNode(), '--unit', 'openclaw-fresh.service']))
        .exitCode,
    ).toBe(0);
    const written = await rs(['unit', '--install']);
    expect(written.exitCode, written.stdout + written.stderr).toBe(0);
    expect(written.json.result).toMatchObject({
      kind: 'unit',
      content: expect.stringContaining('\nTimeoutStopSec=330\n'),
    });
    const shown = await um.systemctl([
      'show',
      'openclaw-fresh.service',
      '--property=TimeoutStopUSec',
      '--property=LoadState',
    ]);
    expect(shown.stdout.trim().split('\n').sort()).toEqual(['LoadState=loaded', 'TimeoutStopUSec=5min 30s']);
  }, 60_000);
});
