// Who may be trusted on a path (platform/trust-rules.ts): the StrictModes / safe.directory rule as a pure function over
// what lstat says of each folder on the way, so each case is plain data: alice (1000) acting, mallory (1002) the other
// account, root (0).
import { describe, expect, it } from 'vitest';
import {
  type PathFacts,
  componentProblem,
  oneOwnerProblem,
  sameIdentity,
  trustFix,
  trustProblems,
} from '../../src/platform/trust-rules.ts';

const ALICE = 1000;
const MALLORY = 1002;
const dir = (path: string, uid: number, mode: number, extra: Partial<PathFacts> = {}): PathFacts => ({
  path,
  kind: 'dir',
  uid,
  gid: uid,
  mode,
  groupTrusted: false,
  role: 'parent',
  ...extra,
});
const target = (facts: PathFacts): PathFacts => ({ ...facts, role: 'target' });
const ROOT_DIR = dir('/', 0, 0o755);
const TMP = dir('/tmp', 0, 0o1777);
const reasons = (paths: PathFacts[], trusted = [0, ALICE]) => trustProblems(paths, trusted).map((p) => p.reason);

describe('trust of a path', () => {
  it("alice's root in her home, and in a sticky /tmp, is trusted; root's too", () => {
    const home = [ROOT_DIR, dir('/home', 0, 0o755), dir('/home/alice', ALICE, 0o750)];
    expect(reasons([...home, target(dir('/home/alice/root', ALICE, 0o700))])).toEqual([]);
    expect(reasons([ROOT_DIR, TMP, target(dir('/tmp/root', ALICE, 0o755))])).toEqual([]);
    expect(reasons([ROOT_DIR, dir('/srv', 0, 0o755), target(dir('/srv/gw', 0, 0o700))])).toEqual([]);
  });

  it('a root mallory made again at a listed path (her folder in /tmp) is hers: refused, the fix names her', () => {
    const problems = trustProblems([ROOT_DIR, TMP, target(dir('/tmp/root', MALLORY, 0o755))], [0, ALICE]);
    expect(problems).toEqual([{ reason: 'owner', path: '/tmp/root', uid: MALLORY, mode: 0o755 }]);
    expect(trustFix(problems[0]!, 'mallory')).toContain('sudo -u mallory');
  });

  it('a root (or its config) writable by others, or by a group with another member, is refused', () => {
    expect(reasons([ROOT_DIR, TMP, target(dir('/tmp/root', ALICE, 0o777))])).toEqual(['writable']);
    expect(reasons([ROOT_DIR, TMP, target(dir('/tmp/root', ALICE, 0o775))])).toEqual(['writable']);
    // A user private group (only alice in it): its write bit lets nobody else in.
    expect(reasons([ROOT_DIR, TMP, target(dir('/tmp/root', ALICE, 0o775, { groupTrusted: true }))])).toEqual([]);
    const config = { ...dir('/tmp/root/config.json', ALICE, 0o666), kind: 'file' as const, role: 'target' as const };
    expect(reasons([ROOT_DIR, TMP, dir('/tmp/root', ALICE, 0o755), config])).toEqual(['writable']);
  });

  it('a folder above the root that another account owns or may write is refused; a sticky one is not', () => {
    const under = (parent: PathFacts) => [ROOT_DIR, parent, target(dir(`${parent.path}/root`, ALICE, 0o700))];
    expect(reasons(under(dir('/home/mallory', MALLORY, 0o755)))).toEqual(['parent-owner']);
    expect(reasons(under(dir('/srv/shared', 0, 0o777)))).toEqual(['parent-writable']);
    expect(reasons(under(dir('/srv/shared', 0, 0o1777)))).toEqual([]);
    expect(reasons(under(dir('/srv/team', 0, 0o775)))).toEqual(['parent-writable']);
  });

  it("root trusts only root's: an account's root, or a folder of the account's above root's root, is refused", () => {
    const account = [ROOT_DIR, dir('/home', 0, 0o755), dir('/home/openclaw', 1001, 0o755)];
    expect(reasons([...account, target(dir('/home/openclaw/root', 1001, 0o700))], [0])).toEqual([
      'parent-owner',
      'owner',
    ]);
    expect(reasons([...account, target(dir('/home/openclaw/root', 0, 0o700))], [0])).toEqual(['parent-owner']);
  });

  it('a link on the way is judged by its owner, then what it points to by the same rules', () => {
    const link = { ...dir('/tmp/root', MALLORY, 0o777), kind: 'symlink' as const, role: 'target' as const };
    expect(reasons([ROOT_DIR, TMP, link, ROOT_DIR, dir('/home', 0, 0o755)])).toEqual(['link-owner']);
    const own = { ...link, uid: ALICE };
    expect(reasons([ROOT_DIR, TMP, own, ROOT_DIR, target(dir('/srv', 0, 0o755))])).toEqual([]);
  });

  it('the listed folder is known by device and inode; a root has one owner for a change', () => {
    expect(sameIdentity({ dev: '2049', ino: '12', uid: ALICE }, { dev: '2049', ino: '12', uid: ALICE })).toBe(true);
    expect(sameIdentity({ dev: '2049', ino: '12', uid: ALICE }, { dev: '2049', ino: '13', uid: ALICE })).toBe(false);
    // The same inode, freed and given to a folder of another account's: not the one listed.
    expect(sameIdentity({ dev: '2049', ino: '12', uid: ALICE }, { dev: '2049', ino: '12', uid: MALLORY })).toBe(false);
    const folder = target(dir('/srv/gw', 0, 0o700));
    expect(oneOwnerProblem(0, 0, folder)).toBeUndefined();
    const other = oneOwnerProblem(0, ALICE, folder)!;
    expect(other.reason).toBe('one-owner');
    expect(trustFix(other, 'root')).toContain('sudo release-switcher --root /srv/gw');
    expect(trustFix(oneOwnerProblem(1001, 0, folder)!, 'openclaw')).toContain('sudo -u openclaw release-switcher');
  });
});

describe('one rule, stated once (componentProblem): the cache folder check and the privileged check are that rule', () => {
  it("owned-path's unsafeComponent refuses exactly what the rule refuses, over every owner, mode and place", async () => {
    const { unsafeComponent } = await import('../../src/platform/owned-path.ts');
    const modes = [0o700, 0o750, 0o755, 0o770, 0o775, 0o777, 0o1777, 0o1755, 0o1775, 0o2775];
    for (const uid of [ALICE, MALLORY, 0])
      for (const mode of modes)
        for (const last of [true, false]) {
          const ours = unsafeComponent(
            { uid, mode: 0o40000 | mode, isDirectory: true, isSymbolicLink: false },
            { uid: ALICE, last },
          );
          const rule = componentProblem(
            { kind: 'dir', uid, mode, groupTrusted: false, role: last ? 'target' : 'parent' },
            last ? [ALICE] : [ALICE, 0],
          );
          expect([uid, mode.toString(8), last, ours === undefined]).toEqual([
            uid,
            mode.toString(8),
            last,
            rule === undefined,
          ]);
        }
  });

  it('the rule for root alone (a privileged line): only root trusted, a sticky folder passable on the way, never at the end', () => {
    const judge = (uid: number, mode: number, role: 'target' | 'parent') =>
      componentProblem({ kind: 'dir', uid, mode, groupTrusted: false, role }, [0]);
    expect(judge(0, 0o755, 'target')).toBeUndefined();
    expect(judge(0, 0o1777, 'parent')).toBeUndefined();
    expect(judge(0, 0o1777, 'target')).toBe('writable');
    expect(judge(0, 0o775, 'parent')).toBe('parent-writable');
    expect(judge(ALICE, 0o755, 'parent')).toBe('parent-owner');
    expect(judge(ALICE, 0o700, 'target')).toBe('owner');
  });
});
