// Which file a unit written with no --entry runs (unit-entry.ts): the unit's own Node script when it is a file of the
// package or of the root, the release's main for `node <root>/current`, and otherwise a USAGE error naming what the
// unit runs. Files only (a root's current release as a folder); no manager is asked.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { defaultConfig } from '../../src/store/config.ts';
import { nodeEntry } from '../../src/unit-files/unit-entry.ts';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A root whose current release has `pkg` as its package.json. */
function rootWith(pkg: Record<string, unknown>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'rs-unit-entry-'));
  dirs.push(root);
  mkdirSync(path.join(root, 'releases', '1.0.0'), { recursive: true });
  writeFileSync(path.join(root, 'releases', '1.0.0', 'package.json'), JSON.stringify({ name: 'app', ...pkg }));
  symlinkSync('releases/1.0.0', path.join(root, 'current'));
  return root;
}

const config = { ...defaultConfig('app'), supervisor: 'systemd' as const, unit: 'app.service' };
const none = { entry: '', bootCheck: null };
const seen = (script: string) => ({
  unit: 'app.service',
  execStart: ['/usr/bin/node', script, '--port', '8080'],
  script,
});

describe('nodeEntry', () => {
  it('node <root>/current/server.js: the entry is the unit’s own (nothing to fill in)', async () => {
    const root = rootWith({});
    expect(await nodeEntry(config, root, none, seen(`${root}/current/server.js`))).toEqual(none);
  });

  it("node <root>/current: the release's main", async () => {
    const root = rootWith({ main: 'lib/server.js' });
    expect(await nodeEntry(config, root, none, seen(`${root}/current`))).toMatchObject({
      entry: 'lib/server.js',
    });
  });

  it('node <root>/current with no main: USAGE naming the unit, its command and why', async () => {
    const root = rootWith({});
    const error = await nodeEntry(config, root, none, seen(`${root}/current`)).catch((e: unknown) => e);
    expect(isReleaseSwitcherError(error) && error.code).toBe('USAGE');
    expect((error as Error).message).toBe(
      `Cannot tell which file of app to run: app.service runs /usr/bin/node ${root}/current --port 8080; ${root}/current is the release's folder, and its package.json names no main.`,
    );
  });

  it('a script outside the package and the root: USAGE naming what the unit runs, and --entry in the hint', async () => {
    const root = rootWith({ main: 'server.js' });
    const error = await nodeEntry(config, root, none, seen('/opt/app/server.js')).catch((e: unknown) => e);
    expect(isReleaseSwitcherError(error) && error.code).toBe('USAGE');
    expect((error as Error).message).toBe(
      `Cannot tell which file of app to run: app.service runs /usr/bin/node /opt/app/server.js --port 8080; its script /opt/app/server.js is neither under ${root}/current nor in a node_modules/app/ folder.`,
    );
    expect(isReleaseSwitcherError(error) && error.hint).toMatch(/--entry FILE/);
  });
});
