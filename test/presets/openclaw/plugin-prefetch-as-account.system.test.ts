// Root acting for the service account (the case is about root): the plugins' prefetch runs npm as the account, in a
// folder the account owns inside root's `<root>/preflight` (its group may pass through, list nothing), never under
// root's 0700 `staging/`, which the account cannot reach (the control below: its own process is refused there). What
// npm leaves (here a link to a root-only folder, as the account could plant one) is removed by the account itself;
// root removes the empty folder only.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Account, canUseAccounts, nodeFor, runThisFileAsRoot, serviceAccount } from '../../support/accounts.ts';
import { tempDir } from '../../support/cli.ts';
import { describeWhere } from '../../support/skip.ts';

runThisFileAsRoot('its subject is root acting for the service account: root prefetches, npm runs as the account');

const asAttacker = (who: Account, script: string) =>
  spawnSync('runuser', ['-u', who.name, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });

describeWhere(canUseAccounts(), "root's plugin prefetch for the service account", () => {
  it("npm runs as the account in a folder of its own under root's preflight/, removed after by the account; root's staging/ stays closed", async () => {
    const who = serviceAccount();
    const { prefetchPlugins } = await import('../../../dist/presets/openclaw/plugin-prefetch.js');
    const root = tempDir('rs-root-', null);
    chmodSync(root, 0o755);
    mkdirSync(join(root, 'staging'), { mode: 0o700 });
    const secret = tempDir('rs-rootonly-', null);
    chmodSync(secret, 0o700);
    writeFileSync(join(secret, 'keys'), 'root only\n', { mode: 0o600 });
    const home = tempDir('rs-home-', who);
    const record = join(home, 'npm.json');
    // An npm that records whom it runs as and where, writes in its prefix, and leaves a link there to root's folder.
    const tools = join(root, 'tools');
    mkdirSync(tools, { mode: 0o755 });
    const npm = join(tools, 'npm-cli.js');
    writeFileSync(
      npm,
      `const fs = require('fs'), path = require('path');
const prefix = process.argv[process.argv.indexOf('--prefix') + 1];
fs.mkdirSync(path.join(prefix, 'node_modules', 'x'), { recursive: true });
fs.writeFileSync(path.join(prefix, 'node_modules', 'x', 'package.json'), '{}');
fs.symlinkSync(${JSON.stringify(secret)}, path.join(prefix, 'node_modules', 'evil'));
fs.writeFileSync(${JSON.stringify(record)}, JSON.stringify({ uid: process.getuid(), cwd: process.cwd(), prefix }));\n`,
      { mode: 0o644 },
    );
    const workDir = join(root, 'preflight', 'plugins-tx1');
    const result = await prefetchPlugins({
      node: nodeFor(who, process.execPath),
      npm,
      runningDir: join(root, 'releases', '1.0.0'),
      listArgs: ['dist/index.js', 'plugins', 'list', '--json'],
      list: { plugins: [{ id: 'matrix', trust: { installSource: 'npm', installSpec: '@openclaw/matrix' } }] },
      targetVersion: '2026.9.6',
      env: { PATH: '/usr/bin:/bin', HOME: home, npm_config_cache: join(home, '.npm') },
      workDir,
      timeoutMs: 30_000,
      as: who,
    });
    expect(result).toMatchObject({ ok: true, specs: ['@openclaw/matrix@2026.9.6'] });
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual({ uid: who.uid, cwd: workDir, prefix: workDir });
    expect(existsSync(workDir)).toBe(false); // emptied by the account, removed empty by root
    expect(readdirSync(secret)).toEqual(['keys']);
    expect(readFileSync(join(secret, 'keys'), 'utf8')).toBe('root only\n');
    const preflight = statSync(join(root, 'preflight'));
    expect([preflight.uid, preflight.gid, (preflight.mode & 0o777).toString(8)]).toEqual([0, who.gid, '710']);
    // Control: root's staging/ is closed to the account (where the prefetch used to put its folder) and stays so.
    expect(asAttacker(who, `ls ${root}/staging`).status).not.toBe(0);
    expect(asAttacker(who, `ls ${root}/preflight`).status).not.toBe(0); // passable, not listable
    expect(statSync(join(root, 'staging')).mode & 0o777).toBe(0o700);
  });
});
