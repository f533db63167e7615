// The plugin's own decisions, in-process (the real gateway drives it end to end in plugin.openclaw.test.ts): what
// `openclaw releases …` hands to runCli, when the gateway is refused, how the chat report waits for the journal,
// and what register() gives OpenClaw. OpenClaw's API is faked at its boundary (a recording `api`).
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import plugin from '../../../integrations/openclaw/src/index.ts';
import { releasesArgv } from '../../../integrations/openclaw/src/cli.ts';
import { PendingReports, deliverPending, outcomeText } from '../../../integrations/openclaw/src/report.ts';
import { describeStatus } from '../../../integrations/openclaw/src/describe.ts';
import { updateCommand } from '../../../integrations/openclaw/src/chat.ts';
import { GATEWAY_TOOL, agentUpdateDecision } from '../../../integrations/openclaw/src/agent-update.ts';
import { assertServedFrom, rootOf, servedRoot } from '../../../integrations/openclaw/src/root.ts';
import { RPC_METHODS, operations, versionParam } from '../../../integrations/openclaw/src/rpc.ts';
import { TAB_PATH, UPDATE_COMMANDS, releasesPage } from '../../../integrations/openclaw/src/control-ui.ts';
import type { ControlUiDescriptor, HttpRoute } from '../../../integrations/openclaw/src/host.ts';
import { ReleaseSwitcherError } from '../../../src/model/errors.ts';
import { cli, tempDir } from '../../support/cli.ts';
import { updateTransaction } from '../../support/transactions.ts';
import { runThisFileAsRoot } from '../../support/accounts.ts';

runThisFileAsRoot(
  'the plugin runs the CLI in this process (as root) on roots it made: root acts only on roots of its own',
);

/** A root with config.json for the package `openclaw`, and an openclaw package folder outside it. */
async function openclawRoot() {
  const dir = tempDir('rs-plugin-');
  const root = path.join(dir, 'root');
  const init = await cli(['--root', root, '--json', 'init', '--package', 'openclaw']);
  expect(init.exitCode, init.stdout + init.stderr).toBe(0);
  const elsewhere = path.join(dir, 'global', 'lib', 'node_modules', 'openclaw');
  mkdirSync(path.join(elsewhere, 'dist'), { recursive: true });
  writeFileSync(path.join(elsewhere, 'package.json'), '{"name":"openclaw","version":"2026.9.5"}');
  writeFileSync(path.join(elsewhere, 'dist', 'index.js'), '');
  return { dir, root, entry: path.join(elsewhere, 'dist', 'index.js'), packageDir: elsewhere };
}

describe('openclaw releases: the argv runCli gets', () => {
  it('adds the configured root unless --root is given, and reads `update VERSION` as the root package at VERSION', async () => {
    const { root, entry } = await openclawRoot();
    const env = {};
    expect(await releasesArgv(['list', '--json'], { root, openclawEntry: entry, env })).toEqual({
      argv: ['--root', root, 'list', '--json'],
    });
    expect(
      await releasesArgv(['--root', root, 'update', '2026.9.6'], { root: '/nowhere', openclawEntry: entry, env }),
    ).toEqual({ argv: ['--root', root, 'update', 'openclaw@2026.9.6'] });
    expect(await releasesArgv(['update', 'openclaw@beta', '--json'], { root, openclawEntry: entry, env })).toEqual({
      argv: ['--root', root, 'update', 'openclaw@beta', '--json'],
    });
  });

  it('refuses a command outside the six (usage) and a root that does not exist (how to adopt)', async () => {
    const { dir, root, entry, packageDir } = await openclawRoot();
    const pruned = await releasesArgv(['prune'], { root, openclawEntry: entry, env: {} });
    expect(pruned).toMatchObject({ refused: { code: 'USAGE' } });
    const missing = path.join(dir, 'no-root');
    const refused = await releasesArgv(['status'], { root: missing, openclawEntry: entry, env: {} });
    expect(refused).toMatchObject({ refused: { code: 'NOT_INITIALIZED' } });
    const hint = (refused as { refused: { hint: string } }).refused.hint;
    expect(hint).toContain(`release-switcher --root ${missing} init --preset openclaw --adopt ${packageDir}`);
    expect(hint).toContain('unit --install');
    // Help needs no root.
    expect(await releasesArgv(['status', '--help'], { root: missing, openclawEntry: entry, env: {} })).toEqual({
      argv: ['--root', missing, 'status', '--help'],
    });
  });
});

describe('inside the gateway: nothing changes unless it runs from the root', () => {
  it('refuses a root without config.json, and a gateway started from outside the root, with the adopt commands', async () => {
    const { dir, root, entry, packageDir } = await openclawRoot();
    const env = { OPENCLAW_SYSTEMD_UNIT: 'my-gateway.service' };
    const none = path.join(dir, 'none');
    await expect(assertServedFrom(none, { argv: ['node', entry], env })).rejects.toMatchObject({
      code: 'NOT_INITIALIZED',
    });
    const outside = assertServedFrom(root, { argv: ['node', entry], env });
    await expect(outside).rejects.toMatchObject({ code: 'GATEWAY_NOT_IN_ROOT' });
    await expect(outside).rejects.toMatchObject({
      hint: expect.stringContaining(`--adopt ${packageDir} --unit my-gateway.service`),
    });
  });

  it('accepts a gateway whose entry point resolves into <root>/releases (through current)', async () => {
    const { root } = await openclawRoot();
    const release = path.join(root, 'releases', '2026.9.5');
    mkdirSync(path.join(release, 'dist'), { recursive: true });
    writeFileSync(path.join(release, 'dist', 'index.js'), '');
    symlinkSync('releases/2026.9.5', path.join(root, 'current-test'));
    const config = await assertServedFrom(root, {
      argv: ['node', path.join(root, 'current-test', 'dist', 'index.js')],
      env: {},
    });
    expect(config.package).toBe('openclaw');
  });

  it('takes a version, not a spec or anything else, as the RPC `version`', () => {
    expect(versionParam({})).toBeUndefined();
    expect(versionParam({ version: '2026.9.6' })).toBe('2026.9.6');
    for (const bad of ['openclaw@latest', '../x', 7, '--root=/'])
      expect(() => versionParam({ version: bad })).toThrow(/must be a version/);
  });

  it('finds the root in the plugin config, else where release-switcher looks by default', () => {
    expect(rootOf({ root: '/srv/oc' }, {})).toBe('/srv/oc');
    expect(rootOf({}, { RELEASE_SWITCHER_ROOT: '/r' })).toBe('/r');
    expect(rootOf(undefined, { XDG_DATA_HOME: '/d' })).toBe('/d/release-switcher');
  });
});

/** A root this OpenClaw runs from (its entry point through `current` into releases/2026.9.5), and another root. */
async function servedAndOther() {
  const { dir, root, entry: outside } = await openclawRoot();
  const release = path.join(root, 'releases', '2026.9.5');
  mkdirSync(path.join(release, 'dist'), { recursive: true });
  writeFileSync(path.join(release, 'package.json'), '{"name":"openclaw","version":"2026.9.5"}');
  writeFileSync(path.join(release, 'dist', 'index.js'), '');
  symlinkSync('releases/2026.9.5', path.join(root, 'current'));
  const other = path.join(dir, 'other-root');
  expect((await cli(['--root', other, '--json', 'init', '--package', 'openclaw'])).exitCode).toBe(0);
  return { dir, root: realpathSync(root), other, outside, entry: path.join(root, 'current', 'dist', 'index.js') };
}

describe('the root this OpenClaw runs from', () => {
  it('is found from its entry point without configuration; the configured root still wins', async () => {
    const { dir, root, outside, entry } = await servedAndOther();
    expect(servedRoot(entry)).toBe(root);
    expect(rootOf({}, { RELEASE_SWITCHER_ROOT: '/r' }, entry)).toBe(root);
    expect(rootOf(undefined, {}, entry)).toBe(root);
    expect(rootOf({ root: '/srv/oc' }, {}, entry)).toBe('/srv/oc');
    // Not run from a root: the CLI's default as before.
    expect(servedRoot(outside)).toBeUndefined();
    expect(rootOf({}, { RELEASE_SWITCHER_ROOT: '/r' }, outside)).toBe('/r');
    // A folder called releases is not a root without config.json beside it.
    const lookalike = path.join(dir, 'plain', 'releases', '1.0.0', 'dist');
    mkdirSync(lookalike, { recursive: true });
    writeFileSync(path.join(lookalike, 'index.js'), '');
    expect(servedRoot(path.join(lookalike, 'index.js'))).toBeUndefined();
  });

  it('is what a refusal names, never the advice to adopt a gateway that already runs from a root', async () => {
    const { dir, root, other, entry } = await servedAndOther();
    const env = { OPENCLAW_SYSTEMD_UNIT: 'my-gateway.service' };
    // Configured to another root (initialized, but not the one it runs from): refused, and told which root it is.
    const inside = assertServedFrom(other, { argv: ['node', entry], env });
    await expect(inside).rejects.toMatchObject({ code: 'GATEWAY_NOT_IN_ROOT' });
    const hint = await inside.catch((error: { hint: string }) => error.hint);
    expect(hint).toContain(`This OpenClaw runs from the release-switcher root ${root}: give --root ${root}`);
    expect(hint).not.toContain('--adopt');
    // `openclaw releases --root <none>` from a CLI that runs from the root: the same.
    const missing = path.join(dir, 'no-root');
    const refused = await releasesArgv(['status'], { root: missing, openclawEntry: entry, env });
    expect(refused).toMatchObject({
      refused: {
        code: 'NOT_INITIALIZED',
        hint: expect.stringContaining(`runs from the release-switcher root ${root}`),
      },
    });
    expect((refused as { refused: { hint: string } }).refused.hint).not.toContain('--adopt');
  });
});

describe('the chat report after the restart', () => {
  const tx = (status: string, finishedAt: string | null) => ({
    id: 't1',
    kind: 'update',
    status,
    from: '2026.9.5',
    to: '2026.9.6',
    finishedAt,
  });

  it('waits while the transaction is in flight, then reports it once in its conversation and forgets it', async () => {
    const reports = new PendingReports();
    reports.bind(tempDir('rs-plugin-state-'));
    expect(await reports.add({ txId: 't1', agentId: 'main', sessionKey: 'agent:main:main' })).toBe(true);
    const answers = [tx('verifying', null), tx('verifying', null), tx('verified', '2026-11-23T06:00:00Z')];
    const delivered: Array<[string, string]> = [];
    await deliverPending({
      reports,
      status: async () => ({ transaction: answers.shift() }) as any,
      deliver: async (report, text) => void delivered.push([report.sessionKey!, text]),
      logger: { info: () => undefined, warn: () => undefined },
      pollMs: 1,
    });
    expect(answers).toEqual([]);
    expect(delivered).toEqual([
      ['agent:main:main', 'release-switcher: update 2026.9.5 → 2026.9.6: verified; 2026.9.6 is running.'],
    ]);
    expect(await reports.read()).toEqual([]);
  });

  it("reports finalize's warnings with the outcome, a line each, in the chat report and in /releases status", async () => {
    const warned = {
      ...tx('verified', '2026-11-23T06:00:00Z'),
      reason: null,
      warnings: [
        {
          step: 'finalize',
          code: 'PLUGIN_CAPABILITY_CONSENT_REQUIRED',
          plugin: 'discord',
          message: 'needs\n  consent',
        },
        { step: 'finalize', message: 'Gateway is only bound to loopback.' },
      ],
    };
    const lines = [
      'Warning (finalize, plugin discord, PLUGIN_CAPABILITY_CONSENT_REQUIRED): needs consent',
      'Warning (finalize): Gateway is only bound to loopback.',
    ];
    expect(outcomeText(warned as any, 't1')).toBe(
      ['release-switcher: update 2026.9.5 → 2026.9.6: verified; 2026.9.6 is running.', ...lines].join('\n'),
    );
    const status = describeStatus({
      running: { version: '2026.9.6' },
      current: '2026.9.6',
      transaction: warned,
    } as any);
    expect(status.split('\n').slice(-2)).toEqual(lines);
  });

  it('keeps a report whose transaction is still in flight at the deadline, for the next process', async () => {
    const reports = new PendingReports();
    reports.bind(tempDir('rs-plugin-state-'));
    await reports.add({ txId: 't1', sessionKey: 'k' });
    await deliverPending({
      reports,
      status: async () => ({ transaction: tx('staging', null) }) as any,
      deliver: async () => expect.fail('nothing is finished'),
      logger: { info: () => undefined, warn: () => undefined },
      pollMs: 1,
      deadlineMs: 0,
    });
    expect(await reports.read()).toEqual([{ txId: 't1', sessionKey: 'k' }]);
  });

  it('keeps a report whose delivery failed and delivers it at the next poll', async () => {
    const reports = new PendingReports();
    reports.bind(tempDir('rs-plugin-state-'));
    await reports.add({ txId: 't1', sessionKey: 'k', sessionId: 's' });
    const tries: string[] = [];
    await deliverPending({
      reports,
      status: async () => ({ transaction: tx('verified', '2026-11-23T06:00:00Z') }) as any,
      deliver: async (report) => {
        tries.push(report.sessionId!);
        if (tries.length === 1) throw new Error('transcript busy');
      },
      logger: { info: () => undefined, warn: () => undefined },
      pollMs: 1,
    });
    expect(tries).toEqual(['s', 's']);
    expect(await reports.read()).toEqual([]);
  });
});

describe("the plugin's package manifest", () => {
  it("declares its host range in OpenClaw's documented fields (docs/plugins/manifest/package-json.md), nothing else", () => {
    const manifest = JSON.parse(readFileSync('integrations/openclaw/package.json', 'utf8')).openclaw;
    expect(manifest.install).toEqual({ minHostVersion: '>=2026.9.5' });
    expect(manifest.compat).toEqual({ pluginApi: '>=2026.9.5' });
  });
});

describe('register(): what OpenClaw gets', () => {
  it('the four gateway methods at operator.admin, `releases` on the CLI, /releases and /update in chat, one service', () => {
    const methods: Array<[string, string | undefined]> = [];
    const commands: any[] = [];
    const descriptors: any[] = [];
    const services: string[] = [];
    const hooks: Array<[string, unknown]> = [];
    plugin.register({
      id: 'release-switcher',
      logger: { info: () => undefined, warn: () => undefined },
      registerCli: (_registrar, opts) => descriptors.push(...(opts?.descriptors ?? [])),
      registerGatewayMethod: (name, _handler, opts) => methods.push([name, opts?.scope]),
      registerCommand: (command) => commands.push(command),
      registerService: (service) => services.push(service.id),
      on: (hook, _handler, opts) => hooks.push([hook, opts]),
    });
    // The agent's own update.run: a gate on core's gateway tool only, with more than the 15 s default to schedule.
    expect(hooks).toEqual([['before_tool_call', { matcher: ['gateway'], timeoutMs: 60_000 }]]);
    expect(methods).toEqual(RPC_METHODS.map((name) => [name, 'operator.admin']));
    expect(
      descriptors.map((d) => [d.name, d.hasSubcommands, d.machineOutput({ argv: ['releases', 'list', '--json'] })]),
    ).toEqual([['releases', true, true]]);
    expect(commands.map((c) => [c.name, c.requireAuth, c.requiredScopes])).toEqual([
      ['releases', true, ['operator.admin']],
      ['update', true, ['operator.admin']],
    ]);
    expect(services).toEqual(['release-switcher-reports']);
    // The manifest declares what register() registers.
    const manifest = JSON.parse(
      readFileSync(path.resolve(import.meta.dirname, '../../../integrations/openclaw/openclaw.plugin.json'), 'utf8'),
    );
    expect(manifest.id).toBe(plugin.id);
    expect(manifest.cliCommands.map((c: any) => c.name)).toEqual(['releases']);
  });
});

describe("the Control UI's Releases tab", () => {
  /** register() against a recording api that has OpenClaw 2026.9's route and descriptor registrars. */
  function registered() {
    const routes: HttpRoute[] = [];
    const descriptors: ControlUiDescriptor[] = [];
    const warned: string[] = [];
    plugin.register({
      id: 'release-switcher',
      pluginConfig: { root: '/nowhere/root' },
      logger: { info: () => undefined, warn: (m) => warned.push(m) },
      registerCli: () => undefined,
      registerGatewayMethod: () => undefined,
      registerCommand: () => undefined,
      registerService: () => undefined,
      registerHttpRoute: (route) => routes.push(route),
      session: { controls: { registerControlUiDescriptor: (d) => descriptors.push(d) } },
    });
    return { routes, descriptors, warned };
  }

  it('a sidebar tab framing a gateway-authenticated route, readable with operator.read', () => {
    const { routes, descriptors } = registered();
    expect(routes.map((r) => [r.path, r.auth, r.match])).toEqual([[TAB_PATH, 'gateway', 'exact']]);
    expect(descriptors).toEqual([
      expect.objectContaining({
        surface: 'tab',
        id: 'releases',
        label: 'Releases',
        path: TAB_PATH,
        requiredScopes: ['operator.read'],
      }),
    ]);
  });

  it('the page says what runs, the last transaction and its warnings, and the commands that update; HTML escaped', () => {
    const page = releasesPage({
      current: '2026.9.6',
      previous: '2026.9.5',
      running: { version: '2026.9.6', pid: 1, since: null, source: 'systemd' },
      transaction: updateTransaction({
        warnings: [{ step: 'finalize', plugin: 'matrix', message: 'Plugin "matrix" <unfinished>' }],
      }),
      inFlight: false,
    } as never);
    expect(page).toContain('Running <b>2026.9.6</b> (current 2026.9.6, previous 2026.9.5).');
    expect(page).toContain('Last: update 2026.9.5 → 2026.9.6: verified.');
    expect(page).toContain('Plugin &quot;matrix&quot; &lt;unfinished&gt;');
    for (const command of UPDATE_COMMANDS) expect(page).toContain(`<code>${command}</code>`);
    expect(page).not.toContain('<script');
  });

  it('the route answers GET with the page (a root it cannot read is said on the page), refuses other methods', async () => {
    const { routes } = registered();
    const answer = async (method: string) => {
      const res = { statusCode: 0, headers: {} as Record<string, string>, body: undefined as string | undefined };
      const handled = await routes[0]!.handler(
        { method, url: TAB_PATH },
        {
          get statusCode() {
            return res.statusCode;
          },
          set statusCode(code: number) {
            res.statusCode = code;
          },
          setHeader: (name, value) => {
            res.headers[name] = value;
          },
          end: (body) => {
            res.body = body;
          },
        },
      );
      return { handled, ...res };
    };
    const got = await answer('GET');
    expect(got).toMatchObject({
      handled: true,
      statusCode: 200,
      headers: { 'Content-Type': 'text/html; charset=utf-8' },
    });
    expect(got.body).toMatch(/release-switcher could not read its root: .*\/nowhere\/root/);
    expect(got.body).toContain('<code>openclaw releases update</code>');
    expect(await answer('POST')).toMatchObject({ handled: true, statusCode: 405, headers: { Allow: 'GET, HEAD' } });
  });

  it('a host without plugin tabs loads the rest and says so in the log', () => {
    const warned: string[] = [];
    plugin.register({
      id: 'release-switcher',
      logger: { info: () => undefined, warn: (m) => warned.push(m) },
      registerCli: () => undefined,
      registerGatewayMethod: () => undefined,
      registerCommand: () => undefined,
      registerService: () => undefined,
    });
    expect(warned).toContainEqual(expect.stringMatching(/no plugin tab in the Control UI/));
  });
});

describe('/update in chat', () => {
  it("asks release-switcher for the update as /releases update does (OpenClaw's own /update is refused under an external supervisor)", async () => {
    const asked: Array<string | undefined> = [];
    const ops = {
      update: async (version: string | undefined) => {
        asked.push(version);
        return { id: 't9', kind: 'update', status: 'up_to_date', from: '2026.9.6', to: '2026.9.6', reason: null };
      },
    } as any;
    const command = updateCommand({ ops, reports: new PendingReports() });
    const ctx = { channel: 'telegram', isAuthorizedSender: true, senderIsOwner: true };
    expect(await command.handler({ ...ctx, args: '2026.9.6' })).toEqual({
      text: 'update 2026.9.6 → 2026.9.6: up_to_date.',
    });
    expect(await command.handler({ ...ctx })).toEqual({ text: 'update 2026.9.6 → 2026.9.6: up_to_date.' });
    expect(asked).toEqual(['2026.9.6', undefined]);
    // More than a version: the usage, nothing asked.
    expect((await command.handler({ ...ctx, args: '2026.9.6 now' })).text).toMatch(/^Usage: \/update \[VERSION\]/);
    expect(asked).toHaveLength(2);
  });
});

describe("the agent's own update (core's gateway tool, action update.run)", () => {
  const scheduled = { id: 't7', kind: 'update', status: 'scheduled', from: '2026.9.5', to: '2026.9.6', reason: null };
  function recording(answer: () => Promise<unknown>) {
    const asked: Array<string | undefined> = [];
    const promised: unknown[] = [];
    const ops = {
      update: async (version: string | undefined) => {
        asked.push(version);
        return answer();
      },
    } as any;
    const reports = {
      add: async (report: unknown) => {
        promised.push(report);
        return true;
      },
    } as any;
    return { asked, promised, actions: { ops, reports } };
  }
  const owner = {
    agentId: 'main',
    sessionKey: 'agent:main:main',
    requester: { channel: 'webchat', senderIsOwner: true },
  };

  it('an owner asking: release-switcher schedules the update and blocks core with what it did; reported here after the restart', async () => {
    const { asked, promised, actions } = recording(async () => scheduled);
    const decision = await agentUpdateDecision(
      { toolName: GATEWAY_TOOL, params: { action: 'update.run', note: 'as asked' } },
      owner,
      actions,
    );
    expect(decision).toEqual({
      block: true,
      blockReason:
        "release-switcher runs this gateway's updates, not update.run. Update to 2026.9.6 scheduled (transaction t7). The gateway restarts in a moment; the outcome will be reported here.",
    });
    expect(asked).toEqual([undefined]); // the channel's version, as update.run would pick
    expect(promised).toEqual([{ txId: 't7', agentId: 'main', sessionKey: 'agent:main:main', sessionId: undefined }]);
  });

  it('a refusal is the answer the agent reads (code and hint); the call is still blocked', async () => {
    const { actions } = recording(async () => {
      throw new ReleaseSwitcherError('BUSY', 'Another transaction holds the root.', {
        hint: 'Wait for it, then ask again.',
      });
    });
    const decision = await agentUpdateDecision(
      { toolName: GATEWAY_TOOL, params: { action: 'update.run' } },
      owner,
      actions,
    );
    expect(decision).toEqual({
      block: true,
      blockReason:
        "release-switcher runs this gateway's updates, not update.run. update refused: BUSY: Another transaction holds the root.\nWait for it, then ask again.",
    });
  });

  it('no decision for a requester not proven the owner, another action, or another tool: core answers as before', async () => {
    const { asked, actions } = recording(async () => scheduled);
    const update = { toolName: GATEWAY_TOOL, params: { action: 'update.run' } };
    for (const requester of [undefined, { channel: 'telegram' }, { channel: 'telegram', senderIsOwner: false }])
      expect(await agentUpdateDecision(update, { ...owner, requester }, actions)).toBeUndefined();
    expect(
      await agentUpdateDecision({ toolName: GATEWAY_TOOL, params: { action: 'config.get' } }, owner, actions),
    ).toBeUndefined();
    expect(
      await agentUpdateDecision({ toolName: 'exec', params: { action: 'update.run' } }, owner, actions),
    ).toBeUndefined();
    expect(asked).toEqual([]);
  });
});

describe('who asks through the plugin', () => {
  it("a gateway RPC's rollback records openclaw-rpc, a chat's openclaw-chat, the agent's openclaw-agent", async () => {
    // Supervisor none: the rollback is carried out in this process, and its record read back at once. The root is
    // made by the test process, which then calls the library in-process as the gateway does.
    const root = path.join(tempDir('rs-plugin-origin-', null), 'root');
    for (const args of [
      ['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl')],
      ['install', 'rs-fixture-gateway@1.0.0'],
      ['install', 'rs-fixture-gateway@1.2.0'],
      ['switch', '1.2.0'],
    ]) {
      const r = await cli(['--root', root, '--json', ...args], { as: null });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    const actions = {
      root: () => root,
      env: { ...process.env },
      argv: ['node', path.join(root, 'current', 'server.js')],
    };
    const rpc = await operations(actions).rollback('1.0.0');
    expect(rpc).toMatchObject({ kind: 'rollback', status: 'switched', to: '1.0.0' });
    expect(rpc.origin).toEqual({ by: 'openclaw-rpc', why: 'requested', detail: 'rollback' });
    for (const by of ['openclaw-chat', 'openclaw-agent'] as const) {
      const asked = await operations(actions, by).rollback(undefined);
      expect(asked.origin).toEqual({ by, why: 'requested', detail: 'rollback' });
    }
  });
});
