// The node-http preset end to end, beyond the demo: a plain Node HTTP service installed from the real Verdaccio, run as
// a unit of a real private systemd --user of a normal account (the harness's default), its `migrate.js` run by the
// finalize step in the stop window on the live state (checkpointed first), and a migration that fails (exit 1, after
// writing half of its change) rolled back with the checkpoint put back.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Step } from '../../src/model/state.ts';
import { tempDir } from '../support/cli.ts';
import { publish } from '../support/registry.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

// A name of its own in the shared registry: nothing else installs it.
const PKG = `rs-node-http-${process.pid}-${Date.now().toString(36)}`;

/** The state file as the service and its migration find it (STATE_DIR, as the unit sets it). */
const STATE_JS = `const dir = process.env.STATE_DIR || path.join(os.homedir(), '.local/state/node-http');
const file = path.join(dir, 'state.json');`;

/** A node-http service at `schema`; `migrate`: its migrate.js (exit 1 after writing half, when `fails`). */
async function tarball(version: string, schema: number, migrate?: { fails?: boolean }): Promise<string> {
  const dir = join(tempDir('rs-node-http-src-'), 'package');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: PKG, version, main: 'server.js', type: 'module' }));
  writeFileSync(
    join(dir, 'server.js'),
    `import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
${STATE_JS}
if (!fs.existsSync(file)) { fs.mkdirSync(dir, { recursive: true }); fs.writeFileSync(file, JSON.stringify({ schema: ${schema} }) + '\\n'); }
const state = JSON.parse(fs.readFileSync(file, 'utf8'));
if (state.schema !== ${schema}) { console.error('state schema ' + state.schema + ', expected ${schema}'); process.exit(78); }
const port = Number(process.argv[process.argv.indexOf('--port') + 1] || process.env.PORT);
http.createServer((req, res) => res.end(JSON.stringify({ version: '${version}', schema: state.schema }))).listen(port, '127.0.0.1');
`,
  );
  if (migrate)
    writeFileSync(
      join(dir, 'migrate.js'),
      `import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
${STATE_JS}
const state = JSON.parse(fs.readFileSync(file, 'utf8'));
console.log('migrating ' + file + ' from schema ' + state.schema + ' as ' + os.userInfo().username);
fs.writeFileSync(file, JSON.stringify({ ...state, schema: ${schema}, by: '${version}' }) + '\\n');
${migrate.fails ? "fs.writeFileSync(path.join(dir, 'half-done'), 'x'); console.log('cannot finish: disk full'); process.exit(1);" : ''}
`,
    );
  const file = join(tempDir('rs-node-http-tgz-'), `${PKG}-${version}.tgz`);
  await tar.c({ gzip: true, file, cwd: join(dir, '..'), portable: true }, ['package']);
  return file;
}

describeWhere(canRunUserManager(), 'the node-http preset under systemd --user, from the registry', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let stateDir: string;
  const state = () => readFileSync(join(stateDir, 'state.json'), 'utf8');
  const step = (tx: { steps: Step[] }, name: string) => tx.steps.find((s) => s.name === name);

  beforeAll(async () => {
    const registry = inject('registryUrl');
    for (const [version, schema, migrate] of [
      ['1.0.0', 1, undefined],
      ['1.1.0', 2, {}],
      ['1.2.0', 3, { fails: true }],
    ] as const)
      await publish(await tarball(version, schema, migrate), { registry });
    manager = await startUserManager({ name: 'node-http' });
    stateDir = join(manager.root, 'service-state');
    gw = await managedGateway(manager, {
      name: 'rs-node-http',
      package: PKG,
      stableFor: 1,
      init: ['--preset', 'node-http'],
      environment: { STATE_DIR: stateDir },
    });
  }, 180_000);
  afterAll(async () => manager?.stop());

  it('init --preset node-http: the preset, its state folder, the flags given winning', async () => {
    const config = JSON.parse(readFileSync(join(gw.root, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      preset: 'node-http',
      package: PKG,
      supervisor: 'systemd',
      healthUrl: `http://127.0.0.1:${gw.port}/health`,
      statePaths: ['${STATE_DIR:-~/.local/state/node-http}'],
    });
  });

  it('1.0.0 installs and starts (no migrate.js: the step is skipped), seeding its state', async () => {
    const r = await gw.rs(['update', `${PKG}@1.0.0`]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ status: 'verified', to: '1.0.0' });
    expect(step(r.json.result, 'finalize')).toMatchObject({
      status: 'skipped',
      detail: 'not run: 1.0.0 has no migrate.js (nothing to run before its first start)',
    });
    expect(JSON.parse(state())).toEqual({ schema: 1 });
  });

  it('update to 1.1.0: migrate.js runs in the stop window on the checkpointed live state, as the account; verified', async () => {
    const r = await gw.rs(['update', `${PKG}@1.1.0`]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const tx = r.json.result;
    expect(tx).toMatchObject({ status: 'verified', from: '1.0.0', to: '1.1.0', snapshot: tx.id });
    expect(tx.steps.map((s: Step) => s.name)).toEqual(['verify-release', 'flip', 'finalize', 'restart', 'verify']);
    expect(step(tx, 'finalize')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^1\.1\.0 migration: ok \(exit 0, \d+ ms\)$/),
    });
    expect(JSON.parse(state())).toEqual({ schema: 2, by: '1.1.0' });
    expect((await gw.health())?.version).toBe('1.1.0');
    // Its output kept as plain text, and it ran as the service's account with the unit's STATE_DIR.
    const out = readFileSync(join(gw.root, 'finalize', `${tx.id}.out`), 'utf8');
    expect(out).toBe(`migrating ${join(stateDir, 'state.json')} from schema 1 as ${manager.account?.name ?? 'root'}\n`);
    // The checkpoint holds the state before the migration (taken in the window, before migrate.js).
    const manifest = JSON.parse(readFileSync(join(gw.root, 'snapshots', tx.id, 'snapshot.json'), 'utf8'));
    expect(manifest).toMatchObject({ fromVersion: '1.0.0', toVersion: '1.1.0', entries: [{ path: stateDir }] });
  });

  it('update to 1.2.0 whose migration fails (exit 1, half written): rolled back, the state as 1.1.0 left it', async () => {
    const before = state();
    const r = await gw.rs(['update', `${PKG}@1.2.0`]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.json.error).toMatchObject({
      code: 'ROLLED_BACK',
      message: '1.2.0 failed (finalize_failed); 1.1.0 is running again and verified.',
      hint: '1.2.0 is marked bad. See why: release-switcher status',
    });
    const tx = r.json.result;
    expect(tx).toMatchObject({ status: 'rolled_back', reason: 'finalize_failed', from: '1.1.0', to: '1.2.0' });
    expect(step(tx, 'finalize')).toMatchObject({
      status: 'failed',
      detail: expect.stringMatching(/^1\.2\.0 migration: failed \(exit 1, \d+ ms\)$/),
      evidence: {
        verdict: { ok: false, exitCode: 1, outputTail: expect.stringContaining('cannot finish: disk full') },
      },
    });
    // The failure's detail says the command's last line, where the operator looks first.
    expect(step(tx, 'rollback')?.detail).toMatch(/^1\.2\.0's migration failed \(exit 1\): cannot finish: disk full; /);
    expect(step(tx, 'restore-state')).toMatchObject({ status: 'ok' });
    expect(state()).toBe(before);
    expect(existsSync(join(stateDir, 'half-done'))).toBe(false);
    expect((await gw.rs(['status'])).json.result.current).toBe('1.1.0');
    expect((await gw.health())?.version).toBe('1.1.0');
    const list = (await gw.rs(['list'])).json.result.releases;
    expect(list.find((rel: { version: string }) => rel.version === '1.2.0')).toMatchObject({ state: 'bad' });
  });
});
