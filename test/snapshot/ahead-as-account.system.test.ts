// Root acting for a normal account (the case is about root): finalize done ahead's operations on the account's state
// folder (snapshot/ahead-account.ts, reached through STATE_OPS `ahead*` in snapshot/state-side.ts) run in the account
// worker with the account's rights. The attacker is the account with its own rights only (runuser -u): it plants
// links at the ready, base and aside folders' names and above an entry, swaps entries for links to root-owned files
// between the fingerprint and the swap, and leaves links to root-owned files in the folders removed at the end. Each
// attack is refused with a code, or done on the link alone; the root-owned targets stay byte-identical and root's.
// The control: the same operations on honest input, the whole way.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Account, canUseAccounts, normalAccount, runThisFileAsRoot } from '../support/accounts.ts';
import { tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

runThisFileAsRoot('its subject is root acting for a normal account: root runs the ops, the account attacks');

const stateSide = () => import('../../dist/snapshot/state-side.js');

/** As the attacker: a shell command with the account's uid, gid and groups. */
function asAttacker(who: Account, script: string): void {
  const r = spawnSync('runuser', ['-u', who.name, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`as ${who.name}: ${script}: ${r.stderr}`);
}

/**
 * Root's places: `closed` (0700, a 0600 file and a folder) and `open` (0755, a 0644 file the account may read), and
 * what they hold (names, owners, modes, bytes), to compare after.
 */
function rootPlaces(): { closed: string; open: string; seen: () => string } {
  const closed = tempDir('rs-rootonly-', null);
  chmodSync(closed, 0o700);
  writeFileSync(join(closed, 'secret'), 'root only\n', { mode: 0o600 });
  mkdirSync(join(closed, 'keys'), { mode: 0o700 });
  writeFileSync(join(closed, 'keys', 'id'), 'key\n', { mode: 0o600 });
  const open = tempDir('rs-rootopen-', null);
  chmodSync(open, 0o755);
  writeFileSync(join(open, 'passwd'), 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
  writeFileSync(join(open, 'a.json'), 'root file named like a state file\n', { mode: 0o644 });
  const walk = (dir: string): string[] => [
    dir,
    ...readdirSync(dir).flatMap((n) => (lstatSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)])),
  ];
  const seen = () =>
    JSON.stringify(
      [...walk(closed), ...walk(open)].map((p) => {
        const s = lstatSync(p);
        return [p, s.uid, s.gid, (s.mode & 0o7777).toString(8), s.isFile() ? readFileSync(p, 'utf8') : ''];
      }),
    );
  return { closed, open, seen };
}

/** The account's state folder (`a.json`, `sub/b.json`), made as the account, and our folders' names in it. */
function setUp(who: Account, tx = 't1') {
  const live = join(tempDir('rs-home-', who), 'state');
  asAttacker(who, `mkdir -m 700 ${live} ${live}/sub && echo one > ${live}/a.json && echo two > ${live}/sub/b.json`);
  const ready = join(live, `.release-switcher-ready-ahead-${tx}`);
  return { live, ready, aside: join(live, `.release-switcher-aside-ahead-${tx}`), base: `${ready}-base` };
}

const copyOf = (live: string) => ({ paths: [live], base: null, residue: [], sqliteNodes: [], skip: [] });
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: { code?: string }) => e.code,
  );
const text = (file: string) => readFileSync(file, 'utf8');

describeWhere(
  canUseAccounts(),
  "root acting for the account: finalize ahead's ops on its state are the account's",
  () => {
    it('control: copy, fingerprint, digest, swap and removal on honest input, as the account, the whole way', async () => {
      const who = normalAccount();
      const { onStateSide } = await stateSide();
      const { live, ready, aside, base } = setUp(who);
      const before = await onStateSide(who, 'aheadFingerprint', [], { dir: live, residue: [] });
      expect(Object.keys(before).sort()).toEqual(['a.json', 'sub/', 'sub/b.json']);
      await onStateSide(who, 'aheadCopy', [], { ready, base, copy: copyOf(live) });
      expect(Object.keys(await onStateSide(who, 'aheadDigest', [], { dir: ready, residue: [] })).sort()).toEqual([
        'a.json',
        'sub/',
        'sub/b.json',
      ]);
      asAttacker(who, `echo finalized > ${ready}/a.json`); // finalize's write, as the account
      const swapped = await onStateSide(who, 'aheadSwap', [], { live, ready, aside, entries: ['a.json'] });
      expect(swapped).toEqual({ moved: ['a.json'] });
      expect([text(join(live, 'a.json')), text(join(aside, 'a.json'))]).toEqual(['finalized\n', 'one\n']);
      for (const p of [ready, aside, base, join(live, 'a.json'), join(aside, 'a.json')])
        expect([p, lstatSync(p).uid]).toEqual([p, who.uid]);
      await onStateSide(who, 'aheadRemove', [], { live, folders: [ready, aside, base] });
      expect(readdirSync(live).sort()).toEqual(['a.json', 'sub']);
    });

    it('a link planted at the ready name (to a root folder the account may read): the copy and the digest are refused, nothing of it listed, the link left', async () => {
      const who = normalAccount();
      const { onStateSide } = await stateSide();
      const { live, ready } = setUp(who);
      const target = rootPlaces();
      const was = target.seen();
      asAttacker(who, `ln -s ${target.open} ${ready}`);
      await expect(onStateSide(who, 'aheadCopy', [], { ready, copy: copyOf(live) })).rejects.toMatchObject({
        code: 'STATE_PATH_UNSAFE',
        message: expect.stringContaining('a symbolic link'),
      });
      const digest = onStateSide(who, 'aheadDigest', [], { dir: ready, residue: [] });
      await expect(digest).rejects.toMatchObject({ code: 'STATE_PATH_UNSAFE' });
      await expect(digest).rejects.not.toMatchObject({ message: expect.stringMatching(/passwd/) });
      expect(readlinkSync(ready)).toBe(target.open);
      expect(target.seen()).toBe(was);
    });

    it('a link planted at the base name (to a root-only folder): the copy is refused, nothing written there', async () => {
      const who = normalAccount();
      const { onStateSide } = await stateSide();
      const { live, ready, base } = setUp(who);
      const target = rootPlaces();
      const was = target.seen();
      asAttacker(who, `ln -s ${target.closed} ${base}`);
      expect(await codeOf(onStateSide(who, 'aheadCopy', [], { ready, base, copy: copyOf(live) }))).toBe(
        'STATE_PATH_UNSAFE',
      );
      expect(readlinkSync(base)).toBe(target.closed);
      expect(target.seen()).toBe(was);
    });

    it('a link planted at the aside name, or above an entry in the ready copy: the swap is refused, nothing moved', async () => {
      const who = normalAccount();
      const { onStateSide } = await stateSide();
      const { live, ready, aside } = setUp(who);
      const target = rootPlaces();
      const was = target.seen();
      await onStateSide(who, 'aheadCopy', [], { ready, copy: copyOf(live) });
      asAttacker(who, `echo finalized > ${ready}/a.json && echo finalized > ${ready}/sub/b.json`);
      asAttacker(who, `ln -s ${target.closed} ${aside}`);
      const swap = { live, ready, aside, entries: ['a.json', 'sub/b.json'] };
      // Refused before anything moved: said as an answer, so the window runs finalize on the live state instead.
      expect(await onStateSide(who, 'aheadSwap', [], swap)).toEqual({
        moved: [],
        refused: { code: 'STATE_PATH_UNSAFE', message: expect.stringContaining(`${aside} is a symbolic link`) },
      });
      expect([text(join(live, 'a.json')), text(join(ready, 'a.json'))]).toEqual(['one\n', 'finalized\n']);
      // The ready copy's sub-folder swapped for a link to a root folder holding a file of the entry's name.
      asAttacker(who, `rm ${aside} && rm -r ${ready}/sub && ln -s ${target.open} ${ready}/sub`);
      const entries = ['sub/a.json'];
      expect(await onStateSide(who, 'aheadSwap', [], { ...swap, entries })).toEqual({
        moved: [],
        refused: { code: 'STATE_PATH_UNSAFE', message: expect.stringContaining(`${ready}/sub is a symbolic link`) },
      });
      expect(existsSync(join(live, 'sub', 'a.json'))).toBe(false);
      // The live sub-folder swapped for that link instead (the ready copy's whole again).
      asAttacker(
        who,
        `rm ${ready}/sub && mkdir ${ready}/sub && echo mine > ${ready}/sub/a.json && mv ${live}/sub ${live}-sub && ln -s ${target.open} ${live}/sub`,
      );
      expect(await onStateSide(who, 'aheadSwap', [], { ...swap, entries })).toEqual({
        moved: [],
        refused: { code: 'STATE_PATH_UNSAFE', message: expect.stringContaining(`${live}/sub is a symbolic link`) },
      });
      expect(text(join(ready, 'sub', 'a.json'))).toBe('mine\n');
      expect(target.seen()).toBe(was);
    });

    it('entries swapped for links to root-owned files between the fingerprint and the swap: only the links move, then removal unlinks them; the targets stay', async () => {
      const who = normalAccount();
      const { onStateSide } = await stateSide();
      const { live, ready, aside, base } = setUp(who);
      const target = rootPlaces();
      const was = target.seen();
      await onStateSide(who, 'aheadFingerprint', [], { dir: live, residue: [] });
      await onStateSide(who, 'aheadCopy', [], { ready, base, copy: copyOf(live) });
      asAttacker(who, `echo finalized > ${ready}/a.json && echo finalized > ${ready}/sub/b.json`);
      // The race, made deterministic: after the window's fingerprint, before the swap.
      asAttacker(
        who,
        `ln -sf ${target.closed}/secret ${live}/a.json && ln -sf ${target.open}/passwd ${ready}/sub/b.json && ln -s ${target.closed}/keys ${ready}/keys`,
      );
      const entries = ['a.json', 'sub/b.json', 'keys'];
      expect(await onStateSide(who, 'aheadSwap', [], { live, ready, aside, entries })).toEqual({ moved: entries });
      expect(text(join(live, 'a.json'))).toBe('finalized\n');
      expect(readlinkSync(join(aside, 'a.json'))).toBe(`${target.closed}/secret`);
      expect(readlinkSync(join(live, 'sub', 'b.json'))).toBe(`${target.open}/passwd`);
      expect(readlinkSync(join(live, 'keys'))).toBe(`${target.closed}/keys`);
      expect(target.seen()).toBe(was);
      await onStateSide(who, 'aheadRemove', [], { live, folders: [ready, aside, base] });
      expect(readdirSync(live).filter((n) => n.startsWith('.release-switcher'))).toEqual([]);
      expect(target.seen()).toBe(was);
    });

    it('removal of folders holding links to root-owned files and folders, and of a link at the aside name: the links go, the targets stay', async () => {
      const who = normalAccount();
      const { onStateSide } = await stateSide();
      const { live, ready, aside, base } = setUp(who);
      const target = rootPlaces();
      const was = target.seen();
      await onStateSide(who, 'aheadCopy', [], { ready, base, copy: copyOf(live) });
      asAttacker(
        who,
        [
          `ln -s ${target.closed}/secret ${ready}/secret`,
          `ln -s ${target.closed}/keys ${ready}/sub/keys`,
          `ln -s ${target.open}/passwd ${base}/passwd`,
          `ln -s ${target.closed} ${aside}`,
        ].join(' && '),
      );
      await onStateSide(who, 'aheadRemove', [], { live, folders: [ready, aside, base] });
      expect(readdirSync(live).sort()).toEqual(['a.json', 'sub']);
      expect(target.seen()).toBe(was);
      // The state folder itself swapped for a link to root's folder: the removal is refused before it looks inside.
      const home = join(live, '..');
      asAttacker(who, `mv ${live} ${home}/moved && ln -s ${target.open} ${live}`);
      const gone = join(live, '.release-switcher-ready-ahead-t1');
      expect(await codeOf(onStateSide(who, 'aheadRemove', [], { live, folders: [gone] }))).toBe('STATE_PATH_UNSAFE');
      expect(await codeOf(onStateSide(who, 'aheadFingerprint', [], { dir: live, residue: [] }))).toBe(
        'STATE_PATH_UNSAFE',
      );
      expect(target.seen()).toBe(was);
    });
  },
);
