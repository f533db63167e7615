// config.json judged by its published schema, through the built CLI (issue 34): a misspelled key, silently ignored
// before, is INVALID_CONFIG (exit 1) in the --json envelope naming the key, its JSON pointer and the key it was meant to
// be; the boot-check says so in the unit's log and lets the start go on; what init writes with every setting reads
// back; and reading the config loads none of ajv but the runtime helper its precompiled validator uses.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultTestAccount } from '../support/accounts.ts';
import { CLI, cliEnv, rs, tempDir } from '../support/cli.ts';
import { layoutProblems } from '../support/layout-schema.ts';

const PKG = 'rs-fixture-gateway';

/** A root made by init, then its config.json edited by hand with `changes`; returns the root and the file. */
async function editedRoot(changes: Record<string, unknown>): Promise<{ root: string; file: string }> {
  const root = join(tempDir('rs-config-'), 'root');
  const init = await rs(root, ['init', '--package', PKG]);
  expect(init.exitCode, init.stdout + init.stderr).toBe(0);
  const file = join(root, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...changes }, null, 2));
  return { root, file };
}

describe('a config.json the schema refuses, through the CLI', () => {
  it.each(['status', 'list'])(
    '%s: a misspelled key is INVALID_CONFIG naming it, where it is, and the key meant',
    async (command) => {
      const { root, file } = await editedRoot({ healthUrll: 'http://127.0.0.1:8080/health' });
      const r = await rs(root, [command]);
      expect([r.exitCode, r.json?.ok, r.json?.error?.code], r.stdout + r.stderr).toEqual([1, false, 'INVALID_CONFIG']);
      expect(r.json.error).toMatchObject({
        message: `${file}: unknown key "healthUrll" at /healthUrll.`,
        hint: `Did you mean "healthUrl"? Rename or remove "healthUrll" in ${file} (its keys: docs/configuration.md).`,
        details: {
          problems: [
            {
              path: '/healthUrll',
              field: 'healthUrll',
              message: 'unknown key "healthUrll" at /healthUrll',
              unknownKey: 'healthUrll',
              suggestion: 'healthUrl',
            },
          ],
        },
      });
    },
  );

  it('boot-check (before every start of the service): says so in the log and lets the start go on', async () => {
    const { root, file } = await editedRoot({ supervisr: 'systemd' });
    const r = await rs(root, ['boot-check']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toEqual({
      action: 'error',
      error: `${file}: unknown key "supervisr" at /supervisr.`,
    });
    expect(r.stderr).toContain('unknown key "supervisr" at /supervisr. (ignored: the start goes on)');
  });

  it('a wrong type names the field, at any depth, and what the schema wants', async () => {
    const { root, file } = await editedRoot({ keep: '3', preflightEnv: { PORT: 8080 } });
    const r = await rs(root, ['list']);
    expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([1, 'INVALID_CONFIG']);
    expect(r.json.error.message).toBe(
      `${file}: "keep" must be a number, not a string. ` +
        'Also: "preflightEnv" at /preflightEnv/PORT must be a string, not a number.',
    );
    expect(r.json.error.hint).toBe('Fix it with: release-switcher init --keep …');
  });
});

describe('what init writes', () => {
  it('with every setting given: the file matches the schema, every key present, and reads back', async () => {
    const dir = tempDir('rs-config-');
    const root = join(dir, 'root');
    const init = await rs(root, [
      'init',
      ...['--package', PKG, '--registry', 'http://127.0.0.1:9/', '--supervisor', 'pm2', '--unit', 'gw'],
      ...['--health-url', 'http://127.0.0.1:8080/health', '--version-field', 'build.version'],
      ...['--verify-timeout', '30', '--stable-for', '2', '--keep', '5', '--node', process.execPath],
      ...['--npm', join(dirname(process.execPath), 'npm')],
      ...['--smoke', 'server.js --version', '--state-path', join(dir, 'state')],
      ...['--independent-path', join(dir, 'state/workspace'), '--preflight', 'server.js --port {port}'],
      ...['--preflight-env', 'PORT={port}', '--preflight-prepare', 'prepare.js {state}'],
      ...['--preflight-config', '{"port":"{port}"}', '--preflight-for', '3', '--schema-field', 'app.schemaVersions'],
      ...['--channel', 'beta', '--cooldown-hours', '1.5', '--rollout-percent', '50', '--host-id', 'host-1'],
      // The service's account must exist, and be one whose group this account may give releases/ to: its own.
      ...['--service-user', defaultTestAccount()?.name ?? userInfo().username, '--verify-signatures', 'always'],
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
    expect(layoutProblems('config', written)).toEqual([]);
    const status = await rs(root, ['status']);
    expect([status.exitCode, status.json?.ok], status.stdout + status.stderr).toEqual([0, true]);
  });
});

describe('reading config.json at start', () => {
  it("loads no part of ajv but its runtime helper: the build made the validator ajv's standalone code", async () => {
    const { root } = await editedRoot({});
    // Preloaded into the CLI's process: at its exit, the modules of ajv it loaded (ajv is CommonJS: all in the cache).
    const probe = join(tempDir('rs-probe-'), 'ajv-loaded.mjs');
    writeFileSync(
      probe,
      "import { createRequire } from 'node:module';\n" +
        'const cache = createRequire(import.meta.url).cache;\n' +
        "process.on('exit', () => process.stderr.write(`AJV ${JSON.stringify(Object.keys(cache)" +
        ".filter((f) => f.includes('/node_modules/ajv/')).map((f) => f.slice(f.indexOf('/node_modules/ajv/'))))}\\n`));\n",
    );
    const { stderr } = spawnSync(process.execPath, ['--import', probe, CLI, '--root', root, '--json', 'status'], {
      env: cliEnv(),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(JSON.parse(/^AJV (.*)$/m.exec(stderr)?.[1] ?? 'null')).toEqual([
      '/node_modules/ajv/dist/runtime/ucs2length.js',
    ]);
  });
});
