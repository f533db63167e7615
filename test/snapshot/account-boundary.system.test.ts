// Root acting for a service account (the case is about root: OpenClaw's role runs the gateway as `openclaw`, and the
// operator runs release-switcher as root for it). The attacker is the service account with its own rights only
// (runuser -u): it plants links where the state was, where a state file was, under the swap's aside name, swaps a
// sub-folder for a link while root copies, keeps a setuid file and a 2 GiB sparse file in its state. Root's
// checkpoint and restore work on the state only as the account (snapshot/state-side.ts): each attack is refused
// with a code or done safely, and what only root may touch stays as it was.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Account, canUseAccounts, nodeFor, serviceAccount } from '../support/accounts.ts';
import { tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

type Snapshot = typeof import('../../dist/snapshot/snapshot.js');
type Swap = typeof import('../../dist/snapshot/swap.js');
const snapshot = (): Promise<Snapshot> => import('../../dist/snapshot/snapshot.js');
const swap = (): Promise<Swap> => import('../../dist/snapshot/swap.js');

/** As the attacker: a shell command with the account's uid, gid and groups. */
function asAttacker(who: Account, script: string): void {
  const r = spawnSync('runuser', ['-u', who.name, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`as ${who.name}: ${script}: ${r.stderr}`);
}

/** A folder only root may touch, with one file: its listing, modes, owners and content, to compare after. */
function rootOnly(): { dir: string; seen: () => string } {
  const dir = tempDir('rs-rootonly-', null);
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, 'secret'), 'root only\n', { mode: 0o600 });
  const seen = () =>
    JSON.stringify(
      [dir, ...readdirSync(dir).map((n) => join(dir, n))].map((p) => {
        const s = lstatSync(p);
        return [p, s.uid, s.gid, (s.mode & 0o7777).toString(8), s.isFile() ? readFileSync(p, 'utf8') : ''];
      }),
    );
  return { dir, seen };
}

/** A root's folder as root makes it for the account (root-owned), and the account's state folder with two files. */
function setUp(who: Account): { root: string; state: string } {
  const root = tempDir('rs-root-', null);
  const home = tempDir('rs-home-', who);
  const state = join(home, '.openclaw');
  asAttacker(who, `mkdir -m 700 ${state} ${state}/sub && echo one > ${state}/a.json && echo two > ${state}/sub/b.json`);
  return { root, state };
}

const ids = { fromVersion: '1.0.0', toVersion: '1.1.0' };
const errorCode = async (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: { code?: string }) => e.code,
  );

describeWhere(canUseAccounts(), 'root acting for the service account: its state touched only with its rights', () => {
  it("a checkpoint and its restore work as the account: the files come back the account's, the checkpoint stays out of its reach", async () => {
    const who = serviceAccount();
    const { root, state } = setUp(who);
    const { takeSnapshot, restoreSnapshot } = await snapshot();
    await takeSnapshot({ root, id: 'tx1', statePaths: [state], as: who, ...ids });
    asAttacker(who, `echo changed > ${state}/a.json && rm ${state}/sub/b.json && echo new > ${state}/c.json`);
    await restoreSnapshot({ root, id: 'tx1', as: who });
    expect(readFileSync(join(state, 'a.json'), 'utf8')).toBe('one\n');
    expect(readFileSync(join(state, 'sub/b.json'), 'utf8')).toBe('two\n');
    expect(existsSync(join(state, 'c.json'))).toBe(false);
    for (const p of [state, join(state, 'a.json'), join(state, 'sub'), join(state, 'sub/b.json')])
      expect([p, lstatSync(p).uid]).toEqual([p, who.uid]);
    // The checkpoint is root's: the account cannot reach it by any path.
    expect(statSync(join(root, 'snapshots')).uid).toBe(0);
    expect(() => asAttacker(who, `ls ${root}/snapshots/tx1/data`)).toThrow(/Permission denied/);
  });

  it('the state folder swapped for a link to a root-only folder after the checkpoint: the restore is refused, that folder untouched', async () => {
    const who = serviceAccount();
    const { root, state } = setUp(who);
    const target = rootOnly();
    const before = target.seen();
    const { takeSnapshot, restoreSnapshot } = await snapshot();
    await takeSnapshot({ root, id: 'tx1', statePaths: [state], as: who, ...ids });
    asAttacker(who, `rm -rf ${state} && ln -s ${target.dir} ${state}`);
    expect(await errorCode(restoreSnapshot({ root, id: 'tx1', as: who }))).toBe('PERMISSION_DENIED');
    expect(target.seen()).toBe(before);
    expect(readdirSync(join(root, 'snapshots')).filter((n) => n.includes('aside'))).toEqual([]);
  });

  it('a state file linked to a root file: the restore never writes it', async () => {
    const who = serviceAccount();
    const { root, state } = setUp(who);
    const target = rootOnly();
    chmodSync(target.dir, 0o755);
    writeFileSync(join(target.dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
    const before = target.seen();
    const file = join(state, 'a.json');
    const { takeSnapshot, restoreSnapshot } = await snapshot();
    await takeSnapshot({ root, id: 'tx1', statePaths: [file], as: who, ...ids });
    asAttacker(who, `rm ${file} && ln -s ${target.dir}/passwd ${file}`);
    expect(await errorCode(restoreSnapshot({ root, id: 'tx1', as: who }))).toBe('PERMISSION_DENIED');
    expect(target.seen()).toBe(before);
  });

  it('the swap: ready copy, swap in and set-aside as the account; a link planted under the aside name is refused, nothing moved', async () => {
    const who = serviceAccount();
    const { root, state } = setUp(who);
    const { takeSnapshot, restoreSnapshot, readSnapshot } = await snapshot();
    const { prepareSwap, keepSetAside } = await swap();
    const manifest = await takeSnapshot({ root, id: 'tx1', statePaths: [state], as: who, ...ids });
    asAttacker(who, `echo changed > ${state}/a.json`);
    // Control: the whole way, as the account.
    expect(await prepareSwap({ root, snapshot: manifest, tx: 'tx2', as: who })).toMatchObject({ folders: 1 });
    await restoreSnapshot({ root, id: 'tx1', tx: 'tx2', as: who });
    expect(readFileSync(join(state, 'a.json'), 'utf8')).toBe('one\n');
    const aside = await keepSetAside({
      root,
      snapshot: manifest,
      tx: 'tx2',
      as: who,
      fromVersion: '1.1.0',
      toVersion: '1.0.0',
    });
    expect(aside).toBe('tx2-aside');
    const layout = { snapshots: join(root, 'snapshots'), snapshot: (id: string) => join(root, 'snapshots', id) };
    expect(await readSnapshot(layout as never, 'tx2-aside')).toMatchObject({ setAsideBy: 'tx2' });
    expect(readFileSync(join(root, 'snapshots/tx2-aside/data/0/a.json'), 'utf8')).toBe('changed\n');
    expect(readdirSync(state).filter((n) => n.startsWith('.release-switcher'))).toEqual([]);
    // The attack: the aside name planted as a link to a root-only folder once the ready copy is made.
    const target = rootOnly();
    const before = target.seen();
    asAttacker(who, `echo again > ${state}/a.json`);
    await prepareSwap({ root, snapshot: manifest, tx: 'tx3', as: who });
    const record = JSON.parse(readFileSync(join(root, 'snapshots/tx1/swap-tx3.json'), 'utf8')) as { setAside: string };
    asAttacker(who, `ln -s ${target.dir} ${state}/.release-switcher-aside-${record.setAside}`);
    expect(await errorCode(restoreSnapshot({ root, id: 'tx1', tx: 'tx3', as: who }))).toBe('STATE_PATH_UNSAFE');
    expect(target.seen()).toBe(before);
    expect(readFileSync(join(state, 'a.json'), 'utf8')).toBe('again\n');
  });

  it('a setuid file in the state: no root-owned file ever appears in the state while root copies it back (watched as the account)', async () => {
    const who = serviceAccount();
    const { root, state } = setUp(who);
    asAttacker(who, `cp /bin/true ${state}/sub/tool && chmod 4755 ${state}/sub/tool`);
    const { takeSnapshot, restoreSnapshot } = await snapshot();
    await takeSnapshot({ root, id: 'tx1', statePaths: [state], as: who, ...ids });
    asAttacker(who, `rm ${state}/sub/tool && echo x > ${state}/sub/tool`);
    const report = join(tempDir('rs-watch-', who), 'seen.json');
    const watcher = watchAs(who, join(state, 'sub'), report);
    await watcher.ready;
    await restoreSnapshot({ root, id: 'tx1', as: who });
    const seen = await watcher.stop();
    expect(seen.events).toBeGreaterThan(0); // it did watch the copy back
    expect(seen.rootOwned).toEqual([]);
    const tool = lstatSync(join(state, 'sub/tool'));
    expect([tool.uid, (tool.mode & 0o7777).toString(8)]).toEqual([who.uid, '4755']);
  });

  it('a sub-folder swapped for a link to a root-only folder while root copies back (raced as the account): that folder untouched', async () => {
    const who = serviceAccount();
    const { root, state } = setUp(who);
    asAttacker(who, `for i in 1 2 3 4 5 6 7 8; do echo $i > ${state}/sub/f$i; done`);
    const target = rootOnly();
    const before = target.seen();
    const { takeSnapshot, restoreSnapshot } = await snapshot();
    await takeSnapshot({ root, id: 'tx1', statePaths: [state], as: who, ...ids });
    asAttacker(who, `rm ${state}/sub/f*`);
    // On the first file the copy back puts into sub/, sub/ becomes a link: the rest of the walk, and the folder's own
    // mode and times set last, would land on the root-only folder if they went by path with root's rights.
    const sub = join(state, 'sub');
    const report = join(tempDir('rs-race-', who), 'swapped');
    const racer = onEventAs(
      who,
      sub,
      `fs.renameSync(${JSON.stringify(sub)}, ${JSON.stringify(`${sub}.moved`)}); fs.symlinkSync(${JSON.stringify(target.dir)}, ${JSON.stringify(sub)}); fs.writeFileSync(${JSON.stringify(report)}, 'swapped')`,
    );
    await racer.ready;
    const code = await errorCode(restoreSnapshot({ root, id: 'tx1', as: who }));
    await racer.stop();
    expect(readFileSync(report, 'utf8')).toBe('swapped'); // the attacker did swap it, mid-copy
    expect(['no error', 'PERMISSION_DENIED', 'STATE_COPY_FAILED']).toContain(code);
    expect(target.seen()).toBe(before);
  });

  it("a rehearsal's private copy is made as the account: its files the account's; a state path linked to a root-only folder is refused", async () => {
    const who = serviceAccount();
    const { state } = setUp(who);
    const { copyStatePrivately } = await import('../../dist/snapshot/private-copy.js');
    const work = tempDir('rs-rehearsal-', null); // root's, 0700, as a rehearsal's folder is
    const copy = await copyStatePrivately([state], join(work, 'state'), { as: who });
    expect(readFileSync(join(copy, 'sub/b.json'), 'utf8')).toBe('two\n');
    for (const p of [copy, join(copy, 'a.json'), join(copy, 'sub/b.json')])
      expect([p, lstatSync(p).uid]).toEqual([p, who.uid]);
    const target = rootOnly();
    const before = target.seen();
    asAttacker(who, `rm -rf ${state} && ln -s ${target.dir} ${state}`);
    expect(await errorCode(copyStatePrivately([state], join(work, 'again'), { as: who }))).toBe('PERMISSION_DENIED');
    expect(target.seen()).toBe(before);
    expect(readdirSync(join(work, 'again'))).toEqual([]); // nothing of root's copied in
  });

  it('a sparse 2 GiB file: the checkpoint and the restore keep its holes', async () => {
    const who = serviceAccount();
    const { root, state } = setUp(who);
    asAttacker(who, `truncate -s 2G ${state}/big && printf end >> ${state}/big`);
    const { takeSnapshot, restoreSnapshot } = await snapshot();
    await takeSnapshot({ root, id: 'tx1', statePaths: [state], as: who, ...ids });
    const copy = statSync(join(root, 'snapshots/tx1/data/0/big'));
    expect(copy.size).toBe(2 ** 31 + 3);
    expect(copy.blocks * 512).toBeLessThan(1 << 20);
    asAttacker(who, `rm ${state}/big`);
    await restoreSnapshot({ root, id: 'tx1', as: who });
    const back = statSync(join(state, 'big'));
    expect([back.size, back.uid]).toEqual([2 ** 31 + 3, who.uid]);
    expect(back.blocks * 512).toBeLessThan(1 << 20);
  }, 120_000);
});

/**
 * A watcher run as the account (inotify through fs.watch): on each event in `dir`, every entry's owner, as the
 * attacker would grab a root-owned setuid file the moment it appeared. Writes what it saw to `report` when stopped.
 */
function watchAs(who: Account, dir: string, report: string) {
  const script = `
    const fs = require('node:fs'), path = require('node:path');
    const seen = { events: 0, rootOwned: [] };
    fs.watch(${JSON.stringify(dir)}, () => {
      seen.events++;
      for (const n of fs.readdirSync(${JSON.stringify(dir)})) {
        try { const s = fs.lstatSync(path.join(${JSON.stringify(dir)}, n)); if (s.uid === 0) seen.rootOwned.push(n + ' ' + (s.mode & 0o7777).toString(8)); } catch {}
      }
    });
    process.on('SIGTERM', () => { fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify(seen)); process.exit(0); });
    console.log('watching');`;
  const child = spawn('runuser', ['-u', who.name, '--', nodeFor(who, process.execPath), '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const stop = async () => {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
    return JSON.parse(readFileSync(report, 'utf8')) as { events: number; rootOwned: string[] };
  };
  return { ready, stop };
}

/** As the account: the first inotify event in `dir` runs `action` (Node, `fs` in scope) once. */
function onEventAs(who: Account, dir: string, action: string) {
  const script = `
    const fs = require('node:fs');
    let done = false;
    const w = fs.watch(${JSON.stringify(dir)}, () => { if (done) return; done = true; ${action}; w.close(); });
    console.log('watching');
    setInterval(() => {}, 1000);`;
  const child = spawn('runuser', ['-u', who.name, '--', nodeFor(who, process.execPath), '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const stop = async () => {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  };
  return { ready, stop };
}
