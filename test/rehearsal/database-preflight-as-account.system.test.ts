// Root acting for the service account (the case is about root: OpenClaw's role runs the gateway as `openclaw`, and
// the operator runs release-switcher as root for it). The database preflight judges the account's databases, live or
// as a checkpoint holds them: every read of them is the account's own (rehearsal/database-copy.ts), so a link the
// account plants (the attacker: the service account with its own rights only, through runuser) never makes root read
// a root-only file. Root's read is seen on the file's access time (relatime: a read moves an atime older than the
// mtime); each attack has its control, the same run without the plant, judged `exact` by a check run as the account.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import { type Account, canUseAccounts, nodeFor, runThisFileAsRoot, serviceAccount } from '../support/accounts.ts';
import { tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

runThisFileAsRoot('its subject is root acting for the service account: root runs the preflight, the account attacks');

const preflight = () => import('../../dist/presets/openclaw/database-preflight.js');
const snapshot = () => import('../../dist/snapshot/snapshot.js');

function asAttacker(who: Account, script: string): void {
  const r = spawnSync('runuser', ['-u', who.name, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`as ${who.name}: ${script}: ${r.stderr}`);
}

/** A WAL database with one row, as `who` (or root) makes it, its `-wal` kept beside it. */
function database(node: string, file: string, row: string, who?: Account): void {
  const script =
    "const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]); db.exec('PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x)'); db.prepare('INSERT INTO t VALUES (?)').run(process.argv[2]); process.exit(0);";
  const args = ['--no-warnings', '-e', script, file, row];
  if (who) execFileSync('runuser', ['-u', who.name, '--', node, ...args]);
  else execFileSync(node, args);
}

/**
 * A root-only folder with a root database holding a secret row: `read()` says whether anything read one of its files
 * since (each file's atime set an hour before its mtime), `seen()` its files, owners and modes.
 */
function rootSecret(node: string) {
  const dir = tempDir('rs-rootonly-', null);
  chmodSync(dir, 0o700);
  const file = join(dir, 'secret.sqlite');
  database(node, file, 'root secret');
  const files = [file, `${file}-wal`];
  for (const f of files) {
    const s = statSync(f);
    utimesSync(f, new Date(s.mtimeMs - 3_600_000), s.mtime);
  }
  const atimes = () => files.map((f) => statSync(f).atimeMs);
  const before = atimes();
  const seen = () => files.map((f) => [f, statSync(f).uid, (statSync(f).mode & 0o7777).toString(8)].join(' '));
  return { dir, file, read: () => atimes().some((a, i) => a !== before[i]), seen, was: seen() };
}

/** A root as root makes it (0755), its target release's check recording, as the account, whom it ran as and the rows. */
function setUp(who: Account) {
  const root = tempDir('rs-root-', null);
  chmodSync(root, 0o755);
  const releaseDir = join(root, 'releases', '1.1.0');
  mkdirSync(releaseDir, { recursive: true, mode: 0o755 });
  const record = join(tempDir('rs-seen-', who), 'ran.json');
  writeFileSync(
    join(releaseDir, 'check.cjs'),
    `const { DatabaseSync } = require('node:sqlite');
const rows = new DatabaseSync(process.argv[2], { readOnly: true }).prepare('SELECT x FROM t').all().map((r) => r.x);
require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ uid: process.getuid(), rows }));
console.log(JSON.stringify({ schema: 'openclaw.state-schema-preflight.v1', status: 'exact' }, null, 2));\n`,
    { mode: 0o644 },
  );
  const home = tempDir('rs-home-', who);
  const state = join(home, '.openclaw');
  asAttacker(who, `mkdir -m 700 ${state}`);
  const ran = () =>
    existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as { uid: number; rows: string[] }) : undefined;
  return { root, releaseDir, state, ran };
}

describeWhere(
  canUseAccounts(),
  "root's database preflight for the service account reads its databases as the account",
  () => {
    const sqliteNode = (who: Account) => nodeFor(who, inject('sqliteNode'));

    it("a checkpoint holding a link the account planted beside its database (-wal to a root-only database): root never reads it; control: the account's own -wal is judged", async () => {
      const who = serviceAccount();
      const node = sqliteNode(who);
      const { takeSnapshot } = await snapshot();
      const { openclawDatabasePreflight } = await preflight();
      const judge = async (root: string, releaseDir: string, state: string, id: string) => {
        const data = join(root, 'snapshots', id, 'data');
        return openclawDatabasePreflight({
          node,
          releaseDir,
          databases: [
            {
              database: join(state, 'openclaw.sqlite'),
              args: ['check.cjs', '{file}'],
              readFrom: { file: join(data, '0', 'openclaw.sqlite'), checkpoint: id, within: data },
            },
          ],
          workDir: join(root, 'preflight', `database-${id}`),
          env: { PATH: '/usr/bin:/bin', HOME: state },
          as: who,
        });
      };
      const ids = { fromVersion: '1.0.0', toVersion: '1.1.0' };

      // Control: the account's database and its -wal, checkpointed by root as the account, judged from the checkpoint.
      const control = setUp(who);
      database(node, join(control.state, 'openclaw.sqlite'), 'the account', who);
      await takeSnapshot({ root: control.root, id: 'cp1', statePaths: [control.state], as: who, ...ids });
      expect(await judge(control.root, control.releaseDir, control.state, 'cp1')).toEqual([
        { database: join(control.state, 'openclaw.sqlite'), checkpoint: 'cp1', status: 'exact' },
      ]);
      expect(control.ran()).toEqual({ uid: who.uid, rows: ['the account'] }); // the -wal's row, read by the account
      expect(existsSync(join(control.root, 'preflight', 'database-cp1'))).toBe(false);

      // The attack: the -wal replaced by a link to a root-only database's -wal, then checkpointed.
      const secret = rootSecret(node);
      const attacked = setUp(who);
      const live = join(attacked.state, 'openclaw.sqlite');
      database(node, live, 'the account', who);
      asAttacker(who, `rm ${live}-wal && ln -s ${secret.file}-wal ${live}-wal`);
      await takeSnapshot({ root: attacked.root, id: 'cp2', statePaths: [attacked.state], as: who, ...ids });
      const stored = join(attacked.root, 'snapshots', 'cp2', 'data', '0', 'openclaw.sqlite-wal');
      expect(statSync(join(attacked.root, 'snapshots', 'cp2', 'data', '0')).uid).toBe(who.uid);
      expect(lstatSync(stored).isSymbolicLink()).toBe(true); // the checkpoint keeps the link as a link
      const verdicts = await judge(attacked.root, attacked.releaseDir, attacked.state, 'cp2');
      expect(verdicts).toMatchObject([
        { status: 'indeterminate', detail: expect.stringMatching(/EACCES|permission denied/i) },
      ]);
      expect(secret.read()).toBe(false);
      expect(secret.seen()).toEqual(secret.was);
      expect(attacked.ran()).toBeUndefined(); // no copy of anything was judged
      expect(existsSync(join(attacked.root, 'preflight', 'database-cp2'))).toBe(false);
    });

    it("a live database swapped for a link to a root-only database once listed: root reads neither its header nor its data; control: the account's own is judged", async () => {
      const who = serviceAccount();
      const node = sqliteNode(who);
      const { openclawDatabasePreflight } = await preflight();
      const { root, releaseDir, state, ran } = setUp(who);
      const live = join(state, 'openclaw.sqlite');
      const judge = (id: string) =>
        openclawDatabasePreflight({
          node,
          releaseDir,
          databases: [{ database: live, args: ['check.cjs', '{file}'] }],
          workDir: join(root, 'preflight', `database-${id}`),
          env: { PATH: '/usr/bin:/bin', HOME: state },
          as: who,
        });
      database(node, live, 'the account', who);
      expect(await judge('control')).toEqual([{ database: live, status: 'exact' }]);
      expect(ran()).toEqual({ uid: who.uid, rows: ['the account'] });

      const secret = rootSecret(node);
      asAttacker(who, `rm ${live} ${live}-wal ${live}-shm; ln -s ${secret.file} ${live}`);
      expect(await judge('attack')).toMatchObject([
        { database: live, status: 'indeterminate', detail: expect.stringMatching(/EACCES|permission denied/i) },
      ]);
      expect(secret.read()).toBe(false);
      expect(secret.seen()).toEqual(secret.was);
      expect(ran()).toEqual({ uid: who.uid, rows: ['the account'] }); // the check did not run again
    });
  },
);
