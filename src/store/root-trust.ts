/**
 * Whether this account may act on a root (platform/trust-rules.ts over the root, its config and every folder above
 * them): a root, a config or a list of roots that another account could write or replace is refused before it is
 * read, with the path, its owner and the fix. Root trusts only root's; an account trusts its own and root's.
 * `repair` (doctor) and `unit` are the two things root does on an account's root: reading it, never running it.
 */
import { type Stats, statSync } from 'node:fs';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { accountName, currentAccount } from '../platform/accounts.js';
import { judgePath } from '../platform/path-trust.js';
import { asPermissionDenied } from '../platform/permission.js';
import {
  type PathFacts,
  type PathIdentity,
  type TrustProblem,
  modeText,
  oneOwnerProblem,
  sameIdentity,
  trustFix,
  trustProblemText,
} from '../platform/trust-rules.js';

/**
 * `read`: look at it (status, list, check); `mutate`: change it (the root's owner only); `repair`: doctor, which root
 * may run on an account's root to give back what root left there; `unit`: the account's drop-in, which root writes
 * for it (/etc/systemd/system is root's).
 */
export type RootPurpose = 'read' | 'mutate' | 'repair' | 'unit';

export interface RootTrust {
  root: string;
  /** The root folder's identity; undefined when there is no folder there. */
  identity: PathIdentity | undefined;
  problems: TrustProblem[];
}

const ownerText = (uid: number) => accountName(uid) ?? `uid ${uid}`;

/** The identity of what `stat` describes. */
export const identityOf = (stat: Pick<Stats, 'dev' | 'ino' | 'uid'>): PathIdentity => ({
  dev: String(stat.dev),
  ino: String(stat.ino),
  uid: stat.uid,
});

/** The identity of the folder at `root` (after links), or undefined when there is none. */
export function rootIdentity(root: string): PathIdentity | undefined {
  try {
    const stat = statSync(root, { bigint: true });
    return { dev: String(stat.dev), ino: String(stat.ino), uid: Number(stat.uid) };
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * Judge `root` for `purpose` as the account `uid`: its folder and config.json (no write for group or others), every
 * folder above them, the links on the way, and `recorded` (the identity it was listed with) when given.
 */
export function judgeRoot(
  root: string,
  options: { purpose: RootPurpose; uid?: number; recorded?: PathIdentity | undefined },
): RootTrust {
  const uid = options.uid ?? process.getuid?.() ?? 0;
  let identity: PathIdentity | undefined;
  try {
    identity = rootIdentity(root);
  } catch (error) {
    throw asPermissionDenied(error, 'looking at the root', root); // a folder on the way closed to this account
  }
  const trusted = [0, uid];
  // Root reading an account's root (doctor, the account's drop-in) trusts what that account could write anyway.
  if (uid === 0 && identity && (options.purpose === 'repair' || options.purpose === 'unit')) trusted.push(identity.uid);
  const own = judgePath(root, trusted);
  const config = identity ? judgePath(path.join(root, 'config.json'), trusted) : undefined;
  const problems = [...own.problems];
  for (const problem of config?.problems ?? [])
    if (!problems.some((p) => p.path === problem.path)) problems.push(problem);
  const folder = own.facts.at(-1) as PathFacts;
  if (identity && options.recorded && !sameIdentity(options.recorded, identity))
    problems.push({ reason: 'replaced', path: folder.path, uid: identity.uid, mode: folder.mode });
  if (identity && options.purpose === 'mutate' && problems.length === 0) {
    const other = oneOwnerProblem(identity.uid, uid, folder);
    if (other) problems.push(other);
  }
  // The headline is what the root itself is (another account's, not the folder listed), before the folders above it.
  const first = (p: TrustProblem) =>
    ['owner', 'replaced', 'one-owner'].includes(p.reason) && p.path === folder.path ? 0 : 1;
  return { root: path.resolve(root), identity, problems: problems.sort((a, b) => first(a) - first(b)) };
}

/** PERMISSION_DENIED for the first of `problems` (the others in its message), or undefined when there are none. */
export function trustError(what: string, problems: readonly TrustProblem[]): ReleaseSwitcherError | undefined {
  const [first, ...others] = problems;
  if (!first) return undefined;
  const owner = ownerText(first.uid);
  const me = currentAccount();
  const also =
    others.length > 0 ? ` Also: ${others.map((p) => trustProblemText(p, ownerText(p.uid))).join('; ')}.` : '';
  return new ReleaseSwitcherError(
    'PERMISSION_DENIED',
    `${me.name} (uid ${me.uid}) does not act on ${what}: ${trustProblemText(first, owner)}.${also}`,
    {
      hint: trustFix(first, owner),
      details: {
        reason: first.reason,
        path: first.path,
        owner,
        ownerUid: first.uid,
        mode: modeText(first.mode),
        account: me.name,
        uid: me.uid,
      },
    },
  );
}

/** Refuse (PERMISSION_DENIED) to act on `root` for `purpose` unless it is trusted (judgeRoot). */
export function assertRootTrusted(root: string, purpose: RootPurpose): void {
  const error = trustError(`the root ${path.resolve(root)}`, judgeRoot(root, { purpose }).problems);
  if (error) throw error;
}

/** Refuse a file of settings (a list of roots, npm's config) that another account could write; trusted: returns. */
export function fileTrustError(file: string, uid = process.getuid?.() ?? 0): ReleaseSwitcherError | undefined {
  return trustError(file, judgePath(file, [0, uid]).problems);
}
