// `init --preset openclaw`: the settings it fills in, explicit flags winning, and the Node 24 it finds or asks for.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/presets/index.ts';
import { cli, tempDir } from '../support/cli.ts';
import { layoutProblems } from '../support/layout-schema.ts';

/** A `node` that only answers the version probe, as a Node of `version` would. */
function fakeNode(version: string): string {
  const dir = tempDir('rs-fake-node-');
  const file = path.join(dir, 'node');
  writeFileSync(file, `#!/bin/sh\necho ${version}\n`);
  chmodSync(file, 0o755);
  return file;
}

const nodeMajor = Number(process.versions.node.split('.')[0]);

describe('init --preset openclaw', () => {
  it('fills in every openclaw setting it is not given', async () => {
    const root = path.join(tempDir('rs-preset-'), 'root');
    const node = fakeNode('24.16.0');
    const r = await cli(['--root', root, '--json', 'init', '--preset', 'openclaw', '--node', node]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.config).toMatchObject({
      package: 'openclaw',
      preset: 'openclaw',
      supervisor: 'systemd',
      unit: 'openclaw-gateway.service',
      healthUrl: 'http://127.0.0.1:18789/startupz',
      versionField: 'version',
      verifyTimeout: 300,
      stableFor: 10,
      node,
      smoke: ['dist/index.js', '--version'],
      schemaField: 'openclaw.schemaVersions',
      // The whole state dir and the config wherever it lives; its gateway locks and runtime tmp/ never travel.
      statePaths: [
        '${OPENCLAW_STATE_DIR:-~/.openclaw}',
        '${OPENCLAW_CONFIG_PATH:-${OPENCLAW_STATE_DIR:-~/.openclaw}/openclaw.json}',
      ],
      residue: ['/tmp/', '*.lock', '*.lock.sqlite', '*.lock.sqlite-*'],
    });
    // What it wrote is what the published schema describes, every key present.
    const written = JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8'));
    expect(layoutProblems('config', written)).toEqual([]);
    // The unit it would write runs the gateway on its port.
    const unit = await cli(['--root', root, '--json', 'unit'], {
      env: { XDG_CONFIG_HOME: path.join(root, 'cfg'), XDG_RUNTIME_DIR: path.join(root, 'no-run') },
    });
    expect(unit.json?.result?.content, unit.stdout + unit.stderr).toContain(
      `\nExecStart=${node} ${root}/current/dist/index.js gateway --port 18789\n`,
    );
  });

  it('explicit flags win over the preset, state paths included (relative ones made absolute)', async () => {
    const dir = tempDir('rs-preset-');
    const root = path.join(dir, 'root');
    const r = await cli(
      [
        '--root',
        root,
        '--json',
        'init',
        '--preset',
        'openclaw',
        '--node',
        fakeNode('24.16.0'),
        '--verify-timeout',
        '120',
        '--unit',
        'gw.service',
        '--state-path',
        'state/db.sqlite',
        '--state-path',
        '~/x',
      ],
      { cwd: dir },
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.config).toMatchObject({
      verifyTimeout: 120,
      unit: 'gw.service',
      statePaths: [path.join(dir, 'state/db.sqlite'), '~/x'],
      healthUrl: PRESETS.openclaw!.settings.healthUrl,
    });
  });

  it('without --node it finds a Node 24, or says it needs one', async () => {
    const root = path.join(tempDir('rs-preset-'), 'root');
    const node24 = fakeNode('24.16.0');
    const found = await cli(['--root', root, '--json', 'init', '--preset', 'openclaw'], {
      env: { PATH: `${path.dirname(fakeNode('22.1.0'))}:${path.dirname(node24)}` },
    });
    expect(found.exitCode, found.stdout + found.stderr).toBe(0);
    expect(found.json.result.config.node).toBe(nodeMajor >= 24 ? process.execPath : node24);
    if (nodeMajor >= 24) return; // the Node running us would always be found
    const none = await cli(
      ['--root', path.join(tempDir('rs-preset-'), 'root'), '--json', 'init', '--preset', 'openclaw'],
      { env: { PATH: path.dirname(fakeNode('22.1.0')) } },
    );
    expect(none.exitCode).toBe(1);
    expect(none.json.error).toMatchObject({
      code: 'NODE_NOT_FOUND',
      message: expect.stringMatching(/openclaw needs Node >=24; found .*22\.1\.0/),
    });
  });

  it('an unknown preset is a usage error', async () => {
    const r = await cli(['--root', path.join(tempDir('rs-preset-'), 'root'), '--json', 'init', '--preset', 'nope']);
    expect(r.exitCode).toBe(2);
    expect(r.json.error).toMatchObject({ code: 'USAGE', hint: expect.stringContaining('openclaw') });
  });
});
