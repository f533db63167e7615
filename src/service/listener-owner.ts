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
import fsSync from 'node:fs';
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
  receivingListeners,
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

/**
 * Every process's pid, parent and group. Read synchronously: a few hundred small /proc files cost about a millisecond
 * that way, against tens through the thread pool, and a probe waits for them.
 */
function allProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const pid of readProc(() => fsSync.readdirSync('/proc'), [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const entry = parseStat(readProc(() => fsSync.readFileSync(`/proc/${pid}/stat`, 'utf8'), ''));
    if (entry) entries.push(entry);
  }
  return entries;
}

/** A read of /proc, or `fallback` when the process (or /proc) is gone or closed to this account. */
function readProc<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** The socket inodes `pid` holds, or null when its fds cannot be read (another account's process, gone). */
function socketsOf(pid: number): string[] | null {
  const fds = readProc<string[] | null>(() => fsSync.readdirSync(`/proc/${pid}/fd`), null);
  if (fds === null) return null;
  const inodes: string[] = [];
  for (const fd of fds) {
    const inode = socketInode(readProc(() => fsSync.readlinkSync(`/proc/${pid}/fd/${fd}`), ''));
    if (inode !== null) inodes.push(inode);
  }
  return inodes;
}

/** The service's processes now, and the socket inodes they hold. */
function ourSockets(processes: ServiceProcesses, all: readonly ProcessEntry[]): Set<string> {
  let inUnit: Set<number> | undefined;
  if (processes.cgroup) {
    const cgroup = processes.cgroup;
    inUnit = new Set(
      all
        .filter((p) =>
          inCgroup(
            readProc(() => fsSync.readFileSync(`/proc/${p.pid}/cgroup`, 'utf8'), ''),
            cgroup,
          ),
        )
        .map((p) => p.pid),
    );
  }
  // The control group, where it has members, is the unit's whole truth; its main PID only where it shows none (a
  // manager in a PID namespace of its own reports a MainPID that names another process here).
  const roots = inUnit && inUnit.size > 0 ? [] : [...processes.pids];
  // pm2's cluster mode: the daemon, the instances' parent, holds the listening socket they share.
  if (processes.parentsToo)
    for (const pid of [...roots]) {
      const parent = all.find((p) => p.pid === pid)?.ppid;
      if (parent && parent > 1 && !roots.includes(parent)) roots.push(parent);
    }
  const tree = serviceTree(all, { pids: roots, pgid: processes.pgid, inUnit });
  const inodes = new Set<string>();
  for (const pid of tree) for (const inode of socketsOf(pid) ?? []) inodes.add(inode);
  return inodes;
}

/** The holder of a socket inode among the processes this account can see, or null. */
function holderOf(inode: string, all: readonly ProcessEntry[]): number | null {
  for (const p of all) if (socketsOf(p.pid)?.includes(inode)) return p.pid;
  return null;
}

/** `127.0.0.1:4000 is held by mallory (uid 1001, pid 4242)`, the pid when this account can see it. */
function describe(listener: Listener, all: readonly ProcessEntry[]): string {
  const where =
    listener.family === 6 ? `[${listener.address}]:${listener.port}` : `${listener.address}:${listener.port}`;
  const user = accountName(listener.uid);
  const pid = holderOf(listener.inode, all);
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
  const port = urlPort(url);
  // Nobody listens on the port (a service still starting): nothing to attribute, no process to read.
  const all = listeners.some((l) => l.port === port) ? allProcesses() : [];
  const verdicts = judgeAddresses(targets, port, listeners, all.length > 0 ? ourSockets(processes, all) : new Set());
  const ours = verdicts.find((v) => v.held === 'ours');
  const strangers: string[] = [];
  for (const v of verdicts) if (v.held === 'stranger') for (const l of v.strangers) strangers.push(describe(l, all));
  return {
    address: ours ? { address: ours.address, family: ours.family } : null,
    inodes: ours?.held === 'ours' ? ours.inodes : [],
    verdicts,
    strangers: [...new Set(strangers)],
  };
}

/**
 * Whether the listeners proven ours before an answer still are the ones that receive its address after it: then the
 * answer came from one of them (while a socket of ours listens there, no other account can take the address from
 * it: listener-table.ts). Only the tables are read: the same socket inode is the same socket, still ours.
 */
export async function stillReceives(before: ListenerProof, healthUrl: string): Promise<boolean> {
  if (before.unknown) return true;
  if (!before.address) return false;
  const listeners = await readListeners();
  if (listeners === null) return false;
  const receiving = receivingListeners(before.address, urlPort(new URL(healthUrl)), listeners);
  return receiving.length > 0 && receiving.every((l) => before.inodes.includes(l.inode));
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
  const all = allProcesses();
  return on.map((l) => describe(l, all));
}
