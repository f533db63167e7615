// The Ansible collection (ansible/): its module's own Python tests (plain unittest against a fake CLI), the layout
// `ansible-galaxy collection build` packs, every playbook of it parsed by ansible-playbook --syntax-check, and
// ansible-lint's verdict on it.
// The real rolling update across three gateways: rolling-update.system.test.ts (system tier).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { tempDir } from '../support/cli.ts';
import { hasTool, itWhere } from '../support/skip.ts';

const COLLECTION = resolve(import.meta.dirname, '../../ansible');
const ANSIBLE = hasTool('ansible-galaxy', 'in CI, which installs ansible-core from apt (.ci/run)');

itWhere(
  hasTool('python3'),
  'the module passes its unittest suite',
  () => {
    const run = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', join(COLLECTION, 'tests/unit'), '-v'], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    // Every test of the suite ran (20 today: the module's envelope, its account environment, the fleet origin).
    expect(Number(/Ran (\d+) tests/.exec(run.stderr)?.[1])).toBeGreaterThanOrEqual(20);
  },
  130_000,
);

itWhere(
  ANSIBLE,
  'ansible-galaxy packs the collection; its playbooks parse',
  () => {
    const out = tempDir('rs-ansible-', null);
    execFileSync('ansible-galaxy', ['collection', 'build', COLLECTION, '--output-path', out], { stdio: 'pipe' });
    const tarball = readdirSync(out).find((f) => f.endsWith('.tar.gz'));
    expect(tarball).toBe('release_switcher-fleet-0.1.0.tar.gz');
    const files = execFileSync('tar', ['tzf', join(out, tarball!)], { encoding: 'utf8' }).split('\n');
    for (const file of [
      'MANIFEST.json',
      'README.md',
      'meta/runtime.yml',
      'plugins/modules/release_switcher.py',
      'roles/gateway/tasks/main.yml',
      'roles/gateway/defaults/main.yml',
      'playbooks/rolling_update.yml',
      'playbooks/rollback.yml',
      'playbooks/adopt.yml',
    ])
      expect(files).toContain(file);
    expect(files.filter((f) => f.includes('__pycache__'))).toEqual([]);
    const collections = join(out, 'collections');
    execFileSync('ansible-galaxy', ['collection', 'install', join(out, tarball!), '-p', collections], {
      stdio: 'pipe',
    });
    for (const playbook of ['rolling_update', 'rollback', 'adopt']) {
      const check = spawnSync('ansible-playbook', ['--syntax-check', `release_switcher.fleet.${playbook}`], {
        encoding: 'utf8',
        env: { ...process.env, ANSIBLE_COLLECTIONS_PATH: collections, ANSIBLE_LOCAL_TEMP: join(out, 'tmp') },
      });
      expect(check.status, `${playbook}: ${check.stdout}${check.stderr}`).toBe(0);
    }
    const doc = spawnSync('ansible-doc', ['release_switcher.fleet.release_switcher'], {
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_COLLECTIONS_PATH: collections, ANSIBLE_LOCAL_TEMP: join(out, 'tmp') },
    });
    expect(doc.status, doc.stderr).toBe(0);
    expect(doc.stdout).toContain('state');
  },
  120_000,
);

itWhere(
  hasTool('ansible-lint', 'in CI, which installs ansible-lint from apt (.ci/run)'),
  'ansible-lint passes the collection (its production profile), the collection installed as users get it',
  () => {
    const out = tempDir('rs-ansible-lint-', null);
    execFileSync('ansible-galaxy', ['collection', 'build', COLLECTION, '--output-path', out], { stdio: 'pipe' });
    const collections = join(out, 'collections');
    execFileSync(
      'ansible-galaxy',
      ['collection', 'install', join(out, 'release_switcher-fleet-0.1.0.tar.gz'), '-p', collections],
      {
        stdio: 'pipe',
      },
    );
    const lint = spawnSync('ansible-lint', ['--offline', '--nocolor'], {
      cwd: COLLECTION,
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_COLLECTIONS_PATH: collections, ANSIBLE_LOCAL_TEMP: join(out, 'tmp') },
      timeout: 280_000,
    });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    expect(`${lint.stdout}${lint.stderr}`).toMatch(/Passed with \w+ profile: 0 failure\(s\), 0 warning\(s\)/);
  },
  300_000,
);
