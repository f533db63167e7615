/**
 * Accounts of this machine by name or uid (the password database): whom the service runs as, whom a path belongs
 * to. Read from /etc/passwd, where useradd, Debian's packages and OpenClaw's Ansible role put service accounts; an
 * account that only NSS knows (LDAP, sssd) is not found, and what needs it says so (naming the account).
 */
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';

export interface AccountInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function parse(line: string): AccountInfo | undefined {
  const [name, , uid, gid, , home, shell] = line.split(':');
  if (!name || uid === undefined || gid === undefined || home === undefined) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home, shell: shell ?? '' };
}

function fromPasswdFile(match: (account: AccountInfo) => boolean): AccountInfo | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const account = parse(line);
      if (account && match(account)) return account;
    }
  } catch {
    // No readable /etc/passwd (a container image without one): not found.
  }
  return undefined;
}

/** The account named `nameOrUid` (a name, or a uid as digits), or undefined when there is none. */
export function lookupAccount(nameOrUid: string | number): AccountInfo | undefined {
  const key = String(nameOrUid);
  const byUid = /^\d+$/.test(key);
  return fromPasswdFile((account) => (byUid ? account.uid === Number(key) : account.name === key));
}

/** The name of the account with `uid`, or undefined. */
export function accountName(uid: number): string | undefined {
  return lookupAccount(uid)?.name;
}

/** The name of the account that owns `file` (`uid N` when the password database has none), or undefined when it is not there. */
export function ownerName(file: string): string | undefined {
  let uid: number;
  try {
    uid = statSync(file).uid;
  } catch {
    return undefined;
  }
  return accountName(uid) ?? `uid ${uid}`;
}

/**
 * The uids of every account in group `gid`: those whose primary group it is (/etc/passwd) and its listed members
 * (/etc/group); names it lists that are no account here are returned as -1 (someone unknown).
 */
export function groupMemberUids(gid: number): number[] {
  const uids = new Set<number>();
  let passwd = '';
  let groups = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
    groups = readFileSync('/etc/group', 'utf8');
  } catch {
    return [-1]; // nothing to tell who is in it: somebody unknown may be
  }
  const byName = new Map<string, number>();
  for (const line of passwd.split('\n')) {
    const account = parse(line);
    if (!account) continue;
    byName.set(account.name, account.uid);
    if (account.gid === gid) uids.add(account.uid);
  }
  for (const line of groups.split('\n')) {
    const [, , id, members] = line.split(':');
    if (id === undefined || Number(id) !== gid || !members) continue;
    for (const name of members.split(',').filter(Boolean)) uids.add(byName.get(name) ?? -1);
  }
  return [...uids];
}

/** The account this process runs as. */
export function currentAccount(): AccountInfo {
  const uid = process.getuid?.() ?? 0;
  return (
    lookupAccount(uid) ?? {
      name: `uid ${uid}`,
      uid,
      gid: process.getgid?.() ?? 0,
      home: os.homedir(),
      shell: '',
    }
  );
}
