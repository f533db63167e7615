/**
 * "The process that answers is the process we started": before a health probe is trusted, the listener that would
 * receive it must be a socket of the service's own processes (its unit's control group, its main process and their
 * descendants, the rehearsal's child and its process group), on every address the health URL's host resolves to the
 * way the probe connects (dns.lookup with every address, as Node's http client tries them). Read from
 * /proc/net/tcp{,6} (LISTEN sockets and their inodes) and /proc/<pid>/fd (socket:[inode] links); a listener whose
 * holder this account cannot see (another user's process) is not ours. The decision itself is listener-table.ts's.
 * Where there is no /proc (macOS, launchd), ownership cannot be told: `unknown` says so and the probe goes on as
 * before, on health and version alone.
 */
import dns from 'node:dns';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { accountName } from '../platform/accounts.js';
import {
  type AddressVerdict,
  type Listener,
  type ProcessEntry,
  type Target,
  inCgroup,
  judgeAddresses,
  parseStat,
  parseTcpTable,
  serviceTree,
  socketInode,
} from './listener-table.js';
import type { ServiceProcesses } from './supervisors/types.js';

export interface ListenerProof {
  /** The address the probe may connect to: the first resolved one whose listener is ours; null when none is. */
  address: Target | null;
  /** The inodes of our listeners on `address` (the same ones must still listen after the answer). */
  inodes: string[];
  verdicts: AddressVerdict[];
  /** Each listener of someone else's that would receive an address of the URL, said with its owner. */
  strangers: string[];
  /** Why ownership cannot be told here (no /proc); the probe is then judged on its answer alone. */
  unknown?: string;
}

/** The port a URL connects to. */
export function urlPort(url: URL): number {
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

/**
 * The addresses a probe of `url` may connect to, in the order it tries them: an address literal itself, else what
 * dns.lookup gives with every address and AI_ADDRCONFIG, as net.connect asks it (Node tries them in turn).
 */
export async function probeTargets(url: URL): Promise<Target[]> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = net.isIP(host);
  if (literal === 4 || literal === 6) return [{ address: host, family: literal }];
  const found = await dns.promises.lookup(host, { all: true, hints: dns.ADDRCONFIG });
  return found.filter((a): a is Target => a.family === 4 || a.family === 6);
}

async function readListeners(): Promise<Listener[] | null> {
  const littleEndian = os.endianness() === 'LE';
  const v4 = await fs.readFile('/proc/net/tcp', 'utf8').catch(() => null);
  const v6 = await fs.readFile('/proc/net/tcp6', 'utf8').catch(() => null);
  if (v4 === null && v6 === null) return null;
  return [...parseTcpTable(v4 ?? '', 4, littleEndian), ...parseTcpTable(v6 ?? '', 6, littleEndian)];
}

async function allProcesses(): Promise<ProcessEntry[]> {
  const pids = (await fs.readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  const entries = await Promise.all(
    pids.map(async (pid) => parseStat(await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''))),
  );
  return entries.filter((e): e is ProcessEntry => e !== null);
}

/** The socket inodes `pid` holds, or null when its fds cannot be read (another account's process, gone). */
async function socketsOf(pid: number): Promise<string[] | null> {
  const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => null);
  if (fds === null) return null;
  const links = await Promise.all(fds.map((fd) => fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.map(socketInode).filter((inode): inode is string => inode !== null);
}

/** The service's processes now, and the socket inodes they hold. */
async function ourSockets(processes: ServiceProcesses, all: readonly ProcessEntry[]): Promise<Set<string>> {
  let inUnit: Set<number> | undefined;
  if (processes.cgroup) {
    const cgroup = processes.cgroup;
    const member = await Promise.all(
      all.map(async (p) => inCgroup(await fs.readFile(`/proc/${p.pid}/cgroup`, 'utf8').catch(() => ''), cgroup)),
    );
    inUnit = new Set(all.filter((_, i) => member[i]).map((p) => p.pid));
  }
  // The control group, where it has members, is the unit's whole truth; its main PID only where it shows none (a
  // manager in a PID namespace of its own reports a MainPID that names another process here).
  const roots = inUnit && inUnit.size > 0 ? [] : [...processes.pids];
  // pm2's cluster mode: the daemon, the instances' parent, holds the listening socket they share.
  if (processes.parentsToo)
    for (const pid of roots) {
      const parent = all.find((p) => p.pid === pid)?.ppid;
      if (parent && parent > 1) roots.push(parent);
    }
  const tree = serviceTree(all, { pids: roots, pgid: processes.pgid, inUnit });
  const inodes = new Set<string>();
  for (const held of await Promise.all([...tree].map(socketsOf))) for (const inode of held ?? []) inodes.add(inode);
  return inodes;
}

/** The holder of a socket inode among the processes this account can see, or null. */
async function holderOf(inode: string, all: readonly ProcessEntry[]): Promise<number | null> {
  for (const p of all) if ((await socketsOf(p.pid))?.includes(inode)) return p.pid;
  return null;
}

/** `127.0.0.1:4000 is held by mallory (uid 1001, pid 4242)`, the pid when this account can see it. */
async function describe(listener: Listener, all: readonly ProcessEntry[]): Promise<string> {
  const where =
    listener.family === 6 ? `[${listener.address}]:${listener.port}` : `${listener.address}:${listener.port}`;
  const user = accountName(listener.uid);
  const pid = await holderOf(listener.inode, all);
  const who = `${user ?? `uid ${listener.uid}`} (uid ${listener.uid}, ${pid === null ? 'its process not visible to this account' : `pid ${pid}`})`;
  return `${where} is held by ${who}`;
}

/** Who would answer a probe of `healthUrl` now: our listener's address, or the strangers that hold it. */
export async function proveListener(healthUrl: string, processes: ServiceProcesses): Promise<ListenerProof> {
  const url = new URL(healthUrl);
  const listeners = await readListeners();
  if (listeners === null)
    return { address: null, inodes: [], verdicts: [], strangers: [], unknown: 'no /proc/net/tcp on this system' };
  const targets = await probeTargets(url);
  const all = await allProcesses();
  const verdicts = judgeAddresses(targets, urlPort(url), listeners, await ourSockets(processes, all));
  const ours = verdicts.find((v) => v.held === 'ours');
  const strangers: string[] = [];
  for (const v of verdicts)
    if (v.held === 'stranger') for (const l of v.strangers) strangers.push(await describe(l, all));
  return {
    address: ours ? { address: ours.address, family: ours.family } : null,
    inodes: ours?.held === 'ours' ? ours.inodes : [],
    verdicts,
    strangers: [...new Set(strangers)],
  };
}

/** Whether the listener proven before an answer still listens after it (the answer came from it). */
export function sameListener(before: ListenerProof, after: ListenerProof): boolean {
  if (before.unknown) return true;
  if (!before.address || !after.address || after.address.address !== before.address.address) return false;
  return after.inodes.some((inode) => before.inodes.includes(inode));
}

/** What the processes are, for a message: `the unit's control group /…`, `pid 12 and its children`. */
export function describeProcesses(processes: ServiceProcesses): string {
  if (processes.cgroup) return `the service's processes (control group ${processes.cgroup})`;
  if (processes.pids.length === 0) return 'the service (no process of it runs)';
  return `the service's processes (pid ${processes.pids.join(', ')} and its children)`;
}

type LookupCallback = (
  error: Error | null,
  address: string | { address: string; family: number }[],
  family?: number,
) => void;

/** A `lookup` for http.get that answers only `pinned`, in either form net.connect asks (one address, or all). */
export function pinnedLookup(pinned: Target) {
  return (_host: string, options: { all?: boolean }, callback: LookupCallback) =>
    options.all
      ? callback(null, [{ address: pinned.address, family: pinned.family }])
      : callback(null, pinned.address, pinned.family);
}

/** Where a probe's ownership check leaves it: failed (`port_taken`, naming the holders; nothing listens) or free to go. */
export interface ListenerJudgement {
  proof: ListenerProof;
  failed?: { ok: false; reason: 'port_taken' | 'timeout'; detail: string };
}

/** What verification keeps of it (health.ts VerifyEvidence.listener). */
export interface ListenerNote {
  address: string | null;
  unknown?: string;
  strangers: string[];
}

/**
 * Whose listener a probe of `url` may reach: only an address whose listener is the service's may be probed; a
 * stranger's listener is `port_taken`, naming its owner; nobody's, a refused connection. `evidence.listener` keeps
 * the address and every stranger seen.
 */
export async function checkListener(
  url: string,
  processes: ServiceProcesses,
  evidence: { listener?: ListenerNote; lastError: string | null },
): Promise<ListenerJudgement> {
  const proof = await proveListener(url, processes);
  const seen = evidence.listener?.strangers ?? [];
  evidence.listener = {
    address: proof.address?.address ?? null,
    ...(proof.unknown && { unknown: proof.unknown }),
    strangers: [...new Set([...seen, ...proof.strangers])],
  };
  if (proof.unknown || proof.address) return { proof };
  if (proof.strangers.length > 0) {
    evidence.lastError = 'port taken';
    const detail = `${proof.strangers.join('; ')}, not by ${describeProcesses(processes)}`;
    return { proof, failed: { ok: false, reason: 'port_taken', detail } };
  }
  evidence.lastError = 'ECONNREFUSED';
  const where = proof.verdicts.map((v) => (v.family === 6 ? `[${v.address}]` : v.address)).join(', ');
  const detail = `no answer from ${url} (nothing listens on ${where || 'its host'})`;
  return { proof, failed: { ok: false, reason: 'timeout', detail } };
}

/** Every listener on `port` (any address), said with its owner; empty when none, null when there is no /proc. */
export async function portHolders(port: number): Promise<string[] | null> {
  const listeners = await readListeners();
  if (listeners === null) return null;
  const on = listeners.filter((l) => l.port === port);
  if (on.length === 0) return [];
  const all = await allProcesses();
  return Promise.all(on.map((l) => describe(l, all)));
}
