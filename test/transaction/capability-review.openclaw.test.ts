// A plugin whose update needs the operator's consent is caught before the stop, on the real gateway (openclaw
// 2026.9.5 → 2026.9.6 from the registry, Node 24, its own unit adopted under a private systemd --user, the CLI and the
// gateway as the suite's normal account). A third-party plugin (@rs-probe/capability-probe, published to a real
// Verdaccio on loopback that the service's npm uses) is installed on 9.5 the way users install it, with the
// operator's consent to its one declared tool; then 1.1.0 is published, declaring a second tool. OpenClaw's finalize
// (9.6's) would leave the plugin on 1.0.0 with PLUGIN_CAPABILITY_CONSENT_REQUIRED, with the gateway stopped.
// - `update 2026.9.6` is refused by the `capability-review` step before the flip: CAPABILITY_CONSENT_REQUIRED,
//   exit 1, the plugin named, the gateway the same process on 9.5, `current` unchanged, no staging left behind;
// - `update 2026.9.6 --accept-capabilities` verifies 9.6, skips the review (recorded), and finalize converges the
//   plugin to 1.1.0 (OpenClaw's own `plugins inspect` on 9.6 says so).
import { existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultTestAccount } from '../support/accounts.ts';
import { cli } from '../support/cli.ts';
import {
  OPENCLAW_UNIT as UNIT,
  REMOVE_TIMEOUT_MS,
  SHORT_WINDOWS,
  adoptRunningGateway,
  openclawBench,
  openclawCliEnv,
  openclawWork,
  removeOpenclawBench,
  rootOpenclaw,
  writeOpenclawService,
  openclawTmp,
} from '../support/openclaw.ts';
import { copyOpenclaw, ownOpenclawNpmCache } from '../support/openclaw-prepared.ts';
import { type Registry, publish, startRegistry } from '../support/registry.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const PACKAGE = '@rs-probe/capability-probe';
const PLUGIN_ID = 'capability-probe';

type StepJson = { name: string; status: string; ms?: number; detail?: string; evidence?: any };

/** The probe plugin at `version`, declaring (and registering) `tools`: a folder to publish. */
function probePlugin(dir: string, version: string, tools: string[]): string {
  const pkg = path.join(dir, `probe-${version}`);
  mkdirSync(pkg, { recursive: true });
  const json = (file: string, value: unknown) =>
    writeFileSync(path.join(pkg, file), `${JSON.stringify(value, null, 2)}\n`);
  json('package.json', {
    name: PACKAGE,
    version,
    type: 'module',
    main: './index.js',
    peerDependencies: { openclaw: '>=2026.9.5' },
    peerDependenciesMeta: { openclaw: { optional: true } },
    openclaw: {
      extensions: ['./index.js'],
      compat: { pluginApi: '>=2026.9.5' },
      install: { minHostVersion: '>=2026.9.5' },
    },
  });
  json('openclaw.plugin.json', {
    id: PLUGIN_ID,
    name: 'Capability probe',
    description: "release-switcher's test of OpenClaw's capability consent",
    configSchema: { type: 'object', additionalProperties: false, properties: {} },
    contracts: { tools },
  });
  writeFileSync(
    path.join(pkg, 'index.js'),
    `export default {
  id: ${JSON.stringify(PLUGIN_ID)},
  name: 'Capability probe',
  description: 'declares ${tools.join(', ')}',
  register(api) {
    for (const name of ${JSON.stringify(tools)})
      api.registerTool({
        name,
        description: 'answers its own name',
        parameters: { type: 'object', properties: {}, additionalProperties: false },
        async execute() {
          return { content: [{ type: 'text', text: name }], details: {} };
        },
      });
  },
};
`,
  );
  return pkg;
}

describeWhere(canRunUserManager(), 'capability consent found before the stop (real openclaw, systemd --user)', () => {
  let um: UserManager;
  let port: number;
  let node: string;
  let registry: Registry;
  const account = defaultTestAccount();
  const work = openclawWork('rs-occonsent-', account);
  const root = path.join(work, 'root');
  let npmCache: string;
  const _state = () => path.join(um.env.HOME!, '.openclaw');
  /** What the CLI runs with (openclawCliEnv). */
  const env = () => openclawCliEnv(um, { npmCache, work });
  const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env: env(), timeout: 1_200_000 });
  /** `openclaw` of the root, as the operator runs it, its npm on the probe's registry. */
  const { openclawCli, pluginSeen: seen } = rootOpenclaw(
    () => um.account,
    root,
    // The gateway's temporary folder, not /tmp (openclawTmp).
    () => ({ ...env(), npm_config_registry: registry.url, TMPDIR: openclawTmp(um) }),
  );
  const pluginSeen = () => seen(PLUGIN_ID);
  const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
  const current = () => path.basename(readlinkSync(path.join(root, 'current')));
  const step = (tx: any, name: string): StepJson | undefined =>
    (tx?.steps ?? []).find((s: StepJson) => s.name === name);

  beforeAll(async () => {
    console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
    registry = await startRegistry({ storageDir: path.join(work, 'verdaccio') });
    await publish(probePlugin(path.join(work, 'plugins'), '1.0.0', ['rs_probe_a']), { registry: registry.url });
    if (!process.env.OPENCLAW_PREFIX) {
      process.env.OPENCLAW_PREFIX = path.join(work, 'prefix');
      await copyOpenclaw(FROM, process.env.OPENCLAW_PREFIX, { link: true });
    }
    npmCache = await ownOpenclawNpmCache(work, account); // after the prefix: its install is what fills the cache
    const bench = await openclawBench({ name: 'occonsent', work, version: FROM, account });
    ({ node, um } = bench);
    port = await freePort();
    // The service's npm: the probe's registry (its finalize converges plugins from there), this file's npm cache.
    await writeOpenclawService(um, {
      node,
      prefix: bench.prefix,
      port,
      ownStateDir: true,
      environment: { npm_config_registry: registry.url, npm_config_cache: npmCache },
    });
    await adoptRunningGateway(um, { rs, node, prefix: bench.prefix, port, version: FROM, init: SHORT_WINDOWS });
    // The way users install a third-party plugin: from npm, past the source warning (--force) and the review of its
    // declared capabilities (accepted).
    const installed = await openclawCli(['plugins', 'install', `npm:${PACKAGE}`, '--force', '--accept-capabilities']);
    expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
    expect(await pluginSeen()).toMatchObject({ version: '1.0.0' });
    // Its next release declares one more tool: OpenClaw asks for consent again before installing it.
    await publish(probePlugin(path.join(work, 'plugins'), '1.1.0', ['rs_probe_a', 'rs_probe_b']), {
      registry: registry.url,
    });
  }, 1_800_000);

  afterAll(async () => {
    await registry?.close();
    await removeOpenclawBench(um, work);
  }, REMOVE_TIMEOUT_MS);

  it('the update is refused before the stop, then goes through with --accept-capabilities', async () => {
    const pid = await mainPid();
    const refused = await rs(['update', TO]);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1);
    const envelope = JSON.parse(refused.stdout);
    expect(envelope.error).toMatchObject({ code: 'CAPABILITY_CONSENT_REQUIRED' });
    expect(envelope.error.message).toContain(PLUGIN_ID);
    expect(envelope.error.hint).toContain('--accept-capabilities');
    const review = step(envelope.result, 'capability-review');
    console.log(`review: ${review?.detail} (${review?.ms} ms); load ${loadavg()[0]!.toFixed(1)}`);
    expect(review).toMatchObject({ status: 'failed' });
    expect(review!.evidence.plugins).toEqual([PLUGIN_ID]);
    expect(review!.evidence.needsConsent).toEqual([
      expect.objectContaining({ code: 'PLUGIN_CAPABILITY_CONSENT_REQUIRED', plugin: PLUGIN_ID }),
    ]);
    expect(step(envelope.result, 'flip')).toBeUndefined();
    // Nothing changed: the same gateway process on 9.5, `current`, the plugin, no staging left behind.
    expect(await mainPid()).toBe(pid);
    expect(current()).toBe(FROM);
    expect(await pluginSeen()).toMatchObject({ version: '1.0.0' });
    const staging = path.join(root, 'staging');
    expect(existsSync(staging) ? readdirSync(staging) : []).toEqual([]);

    const accepted = await rs(['update', TO, '--accept-capabilities']);
    expect(accepted.exitCode, accepted.stdout.slice(-3000) + accepted.stderr.slice(-3000)).toBe(0);
    const tx = JSON.parse(accepted.stdout).result;
    expect(tx).toMatchObject({ status: 'verified', to: TO, acceptCapabilities: true });
    expect(step(tx, 'capability-review')).toMatchObject({ status: 'skipped' });
    expect(step(tx, 'capability-review')!.detail).toContain('--accept-capabilities');
    expect(step(tx, 'finalize')).toMatchObject({ status: 'ok' });
    expect(current()).toBe(TO);
    // 9.6's finalize installed the plugin's new release, with the consent the operator gave.
    expect(await pluginSeen()).toMatchObject({ version: '1.1.0' });
  }, 2_400_000);
});
