/**
 * Whether a path may be trusted by the account that acts on it: the rule OpenSSH's StrictModes and git's
 * safe.directory apply, as a pure function over what lstat says of each folder on the way, so that it is tested
 * without a file system. A path is trusted when nobody but the trusted accounts (the caller, root, and where a
 * command says so the root's owner) could have put it there or could replace it: every folder on the way and the path
 * itself belong to a trusted account, and none of them is writable by another account (group or others), except a
 * sticky folder (/tmp), where only an entry's owner may rename or remove it.
 */

/** What lstat says of one path on the way, and what the gatherer learned of its group. */
export interface PathFacts {
  path: string;
  kind: 'dir' | 'file' | 'symlink' | 'other';
  uid: number;
  gid: number;
  /** The permission bits, sticky bit included (st_mode & 0o7777). */
  mode: number;
  /** Whether every member of the path's group is a trusted account (no other account can use its group bits). */
  groupTrusted: boolean;
  /** `parent`: a folder on the way; `target`: the path judged (a root, its config, a list of roots). */
  role: 'parent' | 'target';
}

/**
 * `owner`, `writable`: the path itself; `parent-*`: a folder above it; `link-owner`: a link on the way;
 * `replaced`: not the folder that was listed (another device, inode or owner); `one-owner`: the root is another account's
 * and the command would change it (a root has one owner: root acting for an account, or the account itself).
 */
export type TrustReason =
  | 'owner'
  | 'writable'
  | 'parent-owner'
  | 'parent-writable'
  | 'link-owner'
  | 'replaced'
  | 'one-owner';

export interface TrustProblem {
  reason: TrustReason;
  path: string;
  uid: number;
  mode: number;
}

const STICKY = 0o1000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;

/** Whether another account than the trusted ones may write the folder or file (`groupTrusted` covers its group). */
function writableByAnother(facts: Pick<PathFacts, 'mode' | 'groupTrusted'>): boolean {
  return (facts.mode & OTHER_WRITE) !== 0 || ((facts.mode & GROUP_WRITE) !== 0 && !facts.groupTrusted);
}

/**
 * The rule on one path, the one statement of it every trust check here makes (a root, its config and the lists of
 * roots for root and for an account: trustProblems; a cache whose code an account runs: owned-path.ts; what root runs
 * or reads in a privileged line: privileged-env.ts untrustedByRoot). The reason `facts` is not trusted by an account
 * that trusts the `trusted` uids, or undefined.
 */
export function componentProblem(
  facts: Pick<PathFacts, 'kind' | 'uid' | 'mode' | 'groupTrusted' | 'role'>,
  trusted: readonly number[],
): TrustReason | undefined {
  const owned = trusted.includes(facts.uid);
  // A link's own mode means nothing (always 0777); who may change where it points is its owner (and its folder's).
  if (facts.kind === 'symlink') return owned ? undefined : 'link-owner';
  if (facts.role === 'target') return !owned ? 'owner' : writableByAnother(facts) ? 'writable' : undefined;
  if (!owned) return 'parent-owner';
  // A sticky folder lets others add entries, never rename or remove one they do not own: what lies below it is
  // judged by its own owner.
  if (writableByAnother(facts) && (facts.mode & STICKY) === 0) return 'parent-writable';
  return undefined;
}

/**
 * The problems of `paths` (parents from `/` down, each symlink met on the way, then the targets) for an account that
 * trusts `trusted` uids: none means trusted.
 */
export function trustProblems(paths: readonly PathFacts[], trusted: readonly number[]): TrustProblem[] {
  return paths.flatMap((facts) => {
    const reason = componentProblem(facts, trusted);
    return reason ? [{ reason, path: facts.path, uid: facts.uid, mode: facts.mode }] : [];
  });
}

/** A folder as it was when it was listed: its device, inode and owner (dev and ino as decimal strings: 64 bits). */
export interface PathIdentity {
  dev: string;
  ino: string;
  uid: number;
}

/**
 * Whether the folder found is the one recorded: same device, inode and owner (a freed inode is soon given to the next
 * folder made on that file system; with another owner it is not the folder listed either).
 */
export function sameIdentity(recorded: PathIdentity, found: PathIdentity): boolean {
  return recorded.dev === found.dev && recorded.ino === found.ino && recorded.uid === found.uid;
}

/**
 * A root has one owner. A command that changes it runs as that owner: root does not change an account's root (it would
 * leave root's files there, which lock the account out), an account does not change root's (root's files are root's).
 */
export function oneOwnerProblem(ownerUid: number, callerUid: number, at: PathFacts): TrustProblem | undefined {
  return ownerUid === callerUid ? undefined : { reason: 'one-owner', path: at.path, uid: ownerUid, mode: at.mode };
}

/** `0755`, `1777`: a mode as people read it. */
export const modeText = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** The command that ends `problem`, for people: what to chmod, or what to move. */
export function trustFix(problem: TrustProblem, owner: string): string {
  switch (problem.reason) {
    case 'writable':
      return `chmod go-w ${problem.path}`;
    case 'parent-writable':
      return `chmod go-w ${problem.path} (or chmod +t, as /tmp), or move the root out of it`;
    case 'parent-owner':
      return `move the root out of ${problem.path} (${owner}'s), or have root own that folder`;
    case 'link-owner':
      return `${problem.path} is a link ${owner} may repoint: name the real path instead`;
    case 'owner':
    case 'one-owner':
      return `${problem.path} is ${owner}'s: run it as ${owner}: ${runAs(problem.uid, owner)} release-switcher --root ${problem.path} …`;
    case 'replaced':
      return `if you made ${problem.path} again yourself, list it again: release-switcher --root ${problem.path} init; else take it off the list: release-switcher forget ${problem.path}`;
  }
}

/** How to become `owner`: `sudo` for root, else `sudo -u NAME`. */
const runAs = (uid: number, owner: string) => (uid === 0 ? 'sudo' : `sudo -u ${owner}`);

/** A problem in words: `/tmp/x is owned by mallory (uid 1002, mode 0755)`. */
export function trustProblemText(problem: TrustProblem, owner: string): string {
  const what = `${problem.path} (owner ${owner}, uid ${problem.uid}, mode ${modeText(problem.mode)})`;
  switch (problem.reason) {
    case 'owner':
      return `${what} belongs to another account`;
    case 'writable':
      return `${what} is writable by another account`;
    case 'parent-owner':
      return `the folder ${what} above it belongs to another account, who may replace what is in it`;
    case 'parent-writable':
      return `the folder ${what} above it is writable by another account, who may replace what is in it`;
    case 'link-owner':
      return `the link ${what} on the way belongs to another account`;
    case 'replaced':
      return `${what} is not the folder that was listed (another device, inode or owner): it was removed and made again`;
    case 'one-owner':
      return `${what} is ${owner}'s root: a command that changes it runs as ${owner}, so that no file in it is another account's`;
  }
}
