// `init --preset node-http` (in-process runCli): the settings it writes, flags winning, a second init keeping them; and
// the finalize verdict it asks for, judged by the exit code alone (service/finalize.ts readVerdict).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { INIT_OPTIONS } from '../../src/cli/init-options.ts';
import { runCli } from '../../src/cli/run.ts';
import { PRESETS, servicePreset } from '../../src/presets/index.ts';
import { readVerdict } from '../../src/service/finalize.ts';
import { finalizeOf, finalizeSteps } from '../../src/transaction/finalize-choice.ts';
import { defaultConfig } from '../../src/store/config.ts';
import type { Supervisor } from '../../src/service/supervisors/types.ts';

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-node-http-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function cli(argv: string[], home: string) {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCli(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    // A list of roots of its own (the machine's is never written by a test), a home of its own.
    env: {
      HOME: home,
      PATH: process.env.PATH,
      XDG_STATE_HOME: join(home, 'state'),
      RELEASE_SWITCHER_SYSTEM_ROOTS: join(home, 'system-roots.json'),
    },
  });
  return { exitCode, stdout, stderr, json: argv.includes('--json') ? JSON.parse(stdout) : undefined };
}

const stoppable = { stop: async () => {} } as unknown as Supervisor;

describe('init --preset node-http', () => {
  it('writes the preset: health with its version, the STATE_DIR folder as state, no Node of its own', async () => {
    const home = scratch();
    const root = join(home, 'root');
    const r = await cli(['--root', root, '--json', 'init', '--preset', 'node-http', '--package', 'my-api'], home);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
    expect(written).toMatchObject({
      package: 'my-api',
      preset: 'node-http',
      healthUrl: 'http://127.0.0.1:3000/health',
      versionField: 'version',
      verifyTimeout: 30,
      stableFor: 3,
      statePaths: ['${STATE_DIR:-~/.local/state/node-http}'],
      // The service's Node: none is looked for (the preset names none), so the unit's and finalize's is ours.
      node: null,
      supervisor: 'none',
    });
    expect(r.json.result.config).toMatchObject({ preset: 'node-http', statePaths: written.statePaths });
  });

  it('flags win over the preset, and init again keeps what the root has', async () => {
    const home = scratch();
    const root = join(home, 'root');
    const first = await cli(
      [
        '--root',
        root,
        'init',
        '--preset',
        'node-http',
        '--package',
        'my-api',
        '--verify-timeout',
        '12',
        '--health-url',
        'http://127.0.0.1:8080/health',
      ],
      home,
    );
    expect(first.exitCode, first.stderr).toBe(0);
    const again = await cli(['--root', root, 'init', '--preset', 'node-http', '--stable-for', '1'], home);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'))).toMatchObject({
      preset: 'node-http',
      verifyTimeout: 12,
      healthUrl: 'http://127.0.0.1:8080/health',
      stableFor: 1,
      statePaths: ['${STATE_DIR:-~/.local/state/node-http}'],
    });
  });

  it("the CLI's --preset choices (help, completion, man page) are the presets' list", () => {
    // Written out in the option's definition (the CLI starts without loading the presets): kept equal here.
    expect(INIT_OPTIONS.preset?.choices).toEqual(Object.keys(PRESETS));
  });

  it('an unknown preset is a usage error naming both presets', async () => {
    const home = scratch();
    const r = await cli(['--root', join(home, 'root'), 'init', '--preset', 'node', '--package', 'x'], home);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/openclaw.*node-http|node-http.*openclaw/);
  });
});

describe("node-http's migration as the finalize step", () => {
  const config = { ...defaultConfig('my-api'), preset: 'node-http' };

  it('runs migrate.js, optional, judged by its exit code; none of OpenClaw’s options', () => {
    const finalize = PRESETS['node-http']!.finalize!;
    expect(finalize).toMatchObject({ args: ['migrate.js'], verdict: 'exit-code', optional: true, name: 'migration' });
    for (const field of ['phaseTimeoutFlag', 'consentFlag', 'consentReview', 'extensions'] as const)
      expect(finalize[field]).toBeUndefined();
    expect(servicePreset(config)).toBe(PRESETS['node-http']);
  });

  it('is run under systemd and pm2 with no Node configured, not under launchd or none; openclaw still needs its Node', () => {
    expect(finalizeOf(config, stoppable)).toBe(PRESETS['node-http']!.finalize);
    expect(finalizeOf(config, { name: 'launchd' } as unknown as Supervisor)).toBeUndefined();
    for (const supervisor of ['systemd', 'systemd-system', 'pm2'] as const)
      expect(finalizeSteps({ ...config, supervisor }).finalize).toBe(true);
    expect(finalizeSteps({ ...config, supervisor: 'launchd' }).finalize).toBe(false);
    const openclaw = { ...defaultConfig('openclaw'), preset: 'openclaw', supervisor: 'systemd' as const };
    expect(finalizeOf(openclaw, stoppable)).toBeUndefined();
    expect(finalizeOf({ ...openclaw, node: '/opt/node24/bin/node' }, stoppable)).toBe(PRESETS.openclaw!.finalize);
  });

  it('exit 0 with plain text is ok; exit 1 fails with its output kept; JSON on stdout is not read as a verdict', () => {
    const run = { stderr: '', ms: 5, timedOut: false, verdict: 'exit-code' as const };
    expect(readVerdict({ ...run, output: 'migrated: schema 1 -> 2\n', exitCode: 0 })).toEqual({
      ok: true,
      exitCode: 0,
      status: 'ok',
      ms: 5,
    });
    expect(readVerdict({ ...run, output: '{"status":"failed"}\n', exitCode: 0 }).ok).toBe(true);
    expect(
      readVerdict({ ...run, output: 'step 1\ncannot migrate schema 7\n', stderr: 'boom\n', exitCode: 1 }),
    ).toMatchObject({
      ok: false,
      status: 'failed',
      exitCode: 1,
      outputTail: 'step 1\ncannot migrate schema 7',
      stderrTail: 'boom',
    });
    expect(readVerdict({ ...run, output: '', exitCode: null, timedOut: true })).toMatchObject({
      ok: false,
      status: 'timed-out',
    });
    // The default stays OpenClaw's: exit 0 without a JSON status is unreadable, not ok.
    expect(readVerdict({ output: 'migrated\n', stderr: '', exitCode: 0, ms: 5, timedOut: false })).toMatchObject({
      ok: false,
      status: 'unreadable',
    });
  });
});
