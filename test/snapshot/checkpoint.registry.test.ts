// A checkpoint of the whole state dir (the openclaw preset's default): what an update may change (credentials, plugin
// payloads and install records, `.env`, config) comes back exactly on the way back, residue never travels, and folders
// the operator declares independent are neither copied nor restored. ocm's users lost `.env` and plugin payloads on
// rollback (ocm#35, PR#72); the preset's old default (databases and openclaw.json only) would have lost them too.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreSnapshot, takeSnapshot } from '../../src/snapshot/snapshot.ts';
import { PRESETS } from '../../src/presets/index.ts';
import { cli, tempDir } from '../support/cli.ts';

const write = (p: string, text: string, mode = 0o644) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
};
const preset = PRESETS.openclaw!.settings;

/** A 9.5-era state dir under `home`. */
function stateDir(home: string): string {
  const state = join(home, '.openclaw');
  write(join(state, 'openclaw.json'), '{"gateway":{"mode":"local"}}');
  write(join(state, '.env'), 'OPENAI_API_KEY=sk-95\n', 0o600);
  write(join(state, 'credentials/oauth.json'), '{"token":"9.5"}', 0o600);
  write(join(state, 'plugins/matrix/package.json'), '{"version":"2026.9.5"}');
  write(join(state, 'plugins/installs.json'), '{"matrix":"2026.9.5"}');
  write(join(state, 'workspace/notes.md'), 'the agent works here');
  symlinkSync('plugins/matrix', join(state, 'current-plugin'));
  write(join(state, 'tmp/openclaw-0/gateway.state.lock'), JSON.stringify({ pid: process.pid }));
  return state;
}

describe('a checkpoint of the whole state dir', () => {
  it('restore puts back exactly the checkpoint (content, modes, symlinks; what came later removed), independent folders left as they are', async () => {
    const home = tempDir('rs-ckpt-home-');
    const state = stateDir(home);
    const root = join(tempDir('rs-ckpt-root-'), 'root');
    mkdirSync(root, { recursive: true });
    const env = { HOME: home };
    const manifest = await takeSnapshot({
      root,
      id: 'tx1',
      statePaths: preset.statePaths!,
      residue: preset.residue!,
      independentPaths: ['~/.openclaw/workspace'],
      env,
      fromVersion: '2026.9.5',
      toVersion: '2026.9.6',
    });
    expect(manifest.entries.map((e) => e.path)).toEqual([state]); // the config inside it is taken once, with it
    expect(manifest.independent).toEqual([join(state, 'workspace')]);
    // 9.6's first start: a new plugin, new credentials, a changed .env and config, a mode changed, a symlink moved.
    write(join(state, 'plugins/discord/package.json'), '{"version":"2026.9.6"}');
    write(join(state, 'plugins/installs.json'), '{"matrix":"2026.9.6","discord":"2026.9.6"}');
    write(join(state, 'credentials/oauth.json'), '{"token":"9.6"}', 0o644);
    write(join(state, 'credentials/discord.json'), '{"token":"new"}', 0o600);
    write(join(state, '.env'), 'OPENAI_API_KEY=sk-96\n', 0o600);
    rmSync(join(state, 'current-plugin'));
    symlinkSync('plugins/discord', join(state, 'current-plugin'));
    write(join(state, 'workspace/notes.md'), 'the agent kept working');
    write(join(state, 'workspace/new.md'), 'written after the checkpoint');
    await restoreSnapshot({ root, id: 'tx1' });
    expect(existsSync(join(state, 'plugins/discord'))).toBe(false);
    expect(existsSync(join(state, 'credentials/discord.json'))).toBe(false);
    expect(readFileSync(join(state, 'credentials/oauth.json'), 'utf8')).toBe('{"token":"9.5"}');
    expect(lstatSync(join(state, 'credentials/oauth.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(state, 'plugins/installs.json'), 'utf8')).toBe('{"matrix":"2026.9.5"}');
    expect(readFileSync(join(state, '.env'), 'utf8')).toBe('OPENAI_API_KEY=sk-95\n');
    expect(readlinkSync(join(state, 'current-plugin'))).toBe('plugins/matrix');
    // The independent workspace is as the agent left it.
    expect(readFileSync(join(state, 'workspace/notes.md'), 'utf8')).toBe('the agent kept working');
    expect(readFileSync(join(state, 'workspace/new.md'), 'utf8')).toBe('written after the checkpoint');
  });

  it('init --preset openclaw shows what the checkpoint covers and its size, residue and independent folders left out', async () => {
    const home = tempDir('rs-ckpt-home-');
    const state = stateDir(home);
    const root = join(tempDir('rs-ckpt-root-'), 'root');
    const r = await cli(
      [
        '--root',
        root,
        'init',
        '--preset',
        'openclaw',
        '--node',
        process.execPath,
        '--independent-path',
        '~/.openclaw/workspace',
      ],
      { env: { HOME: home } },
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('checkpoints of the state cover:');
    expect(r.stdout).toMatch(new RegExp(`${state} \\(6 files, 0\\.0 MB\\)`));
    expect(r.stdout).toContain(`left out as process residue: ${join(state, 'tmp')}`);
    expect(r.stdout).toContain(`left out as independent: ${join(state, 'workspace')}`);
    const json = await cli(['--root', root, '--json', 'init'], { env: { HOME: home } });
    expect(json.json.result.config.independentPaths).toEqual(['~/.openclaw/workspace']);
    expect(json.json.result.checkpoint).toMatchObject({ files: 6, paths: [{ path: state, type: 'dir', files: 6 }] });
  });
});
