/**
 * Who would receive a connection to an address and port, read from the kernel's socket tables: pure functions over
 * the text of /proc/net/tcp{,6} and /proc/<pid>/fd links, so the decision is tested without a socket
 * (test/service/listener-table.test.ts). The reading of those files is listener-owner.ts's.
 *
 * The kernel's choice among listeners on one port (net/ipv4/inet_hashtables.c, inet6_hashtables.c): a socket bound
 * to the exact address wins over a wildcard one; for IPv4, `0.0.0.0` over a dual-stack `::`; an IPv6 address is
 * reached only by IPv6 sockets. Two sockets on the same exact address need SO_REUSEPORT, which the kernel allows
 * only within one user id, and a wildcard listener keeps anyone from binding an exact address of its port: so once a
 * listener of ours receives an address, no other account can take that address from it while it listens.
 */

/** One listening TCP socket: its family, local address (canonical text), port, owner uid and socket inode. */
export interface Listener {
  family: 4 | 6;
  address: string;
  port: number;
  uid: number;
  inode: string;
}

/** An address a probe may connect to (as dns.lookup gives it). */
export interface Target {
  address: string;
  family: 4 | 6;
}

const LISTEN = '0A';

/** An IPv4 address from the table's hex, a 32-bit word in the host's byte order. */
function ipv4(hex: string, littleEndian: boolean): string {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return (littleEndian ? bytes.reverse() : bytes).join('.');
}

/** An IPv6 address from the table's hex: four 32-bit words, each in the host's byte order. */
function ipv6(hex: string, littleEndian: boolean): string | null {
  const bytes: number[] = [];
  for (let word = 0; word < 4; word++) {
    const four = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(word * 8 + i, word * 8 + i + 2), 16));
    bytes.push(...(littleEndian ? four.reverse() : four));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return canonical(groups.join(':'), 6);
}

/**
 * The one spelling of an address, so that `::1`, `0:0:0:0:0:0:0:1` and the table's hex compare equal: the URL
 * standard's serializer (compressed, lower case). A zone (`fe80::1%eth0`) is dropped. null: not an address.
 */
export function canonical(address: string, family: 4 | 6): string | null {
  try {
    if (family === 4) return /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ? new URL(`http://${address}/`).hostname : null;
    return new URL(`http://[${address.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/**
 * The LISTEN sockets of one table (/proc/net/tcp for `family` 4, tcp6 for 6). Columns: sl, local_address,
 * rem_address, st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode. `littleEndian`: the host's
 * byte order (os.endianness() === 'LE'), in which the kernel prints each 32-bit word of an address.
 */
export function parseTcpTable(text: string, family: 4 | 6, littleEndian = true): Listener[] {
  const listeners: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const [local, state, uid, inode] = [cols[1], cols[3], cols[7], cols[9]];
    if (!local || state !== LISTEN || uid === undefined || !inode || !/^\d+$/.test(inode)) continue;
    const colon = local.lastIndexOf(':');
    const hex = local.slice(0, colon);
    if (hex.length !== (family === 4 ? 8 : 32) || !/^[0-9A-Fa-f]+$/.test(hex)) continue;
    const address = family === 4 ? ipv4(hex, littleEndian) : ipv6(hex, littleEndian);
    if (address === null) continue;
    listeners.push({ family, address, port: Number.parseInt(local.slice(colon + 1), 16), uid: Number(uid), inode });
  }
  return listeners;
}

/** The inode of a `/proc/<pid>/fd/<n>` link that is a socket (`socket:[12345]`), else null. */
export function socketInode(link: string): string | null {
  return /^socket:\[(\d+)\]$/.exec(link)?.[1] ?? null;
}

/** An IPv4 address mapped into IPv6 (`::ffff:127.0.0.1`) as the IPv4 address it stands for; else null. */
function unmapped(address: string): string | null {
  const dotted = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  if (dotted) return dotted;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return null;
  const [hi, lo] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/**
 * The listeners a connection to `target`:`port` may reach, by the kernel's preference: those bound to the exact
 * address (an IPv4 one also through its mapped IPv6 form), else the family's wildcard, else (IPv4) a dual-stack
 * `::`. Several at one level share the address through SO_REUSEPORT: any of them may answer.
 */
export function receivingListeners(target: Target, port: number, listeners: readonly Listener[]): Listener[] {
  const onPort = listeners.filter((l) => l.port === port);
  const address = canonical(target.address, target.family);
  if (address === null) return [];
  const v4 = target.family === 4 ? address : unmapped(address);
  const levels: Array<(l: Listener) => boolean> =
    v4 !== null
      ? [
          (l) => (l.family === 4 && l.address === v4) || (l.family === 6 && unmapped(l.address) === v4),
          (l) => l.family === 4 && l.address === '0.0.0.0',
          (l) => l.family === 6 && l.address === '::',
        ]
      : [(l) => l.family === 6 && l.address === address, (l) => l.family === 6 && l.address === '::'];
  for (const level of levels) {
    const found = onPort.filter(level);
    if (found.length > 0) return found;
  }
  return [];
}

/** How one address of the health URL stands: its listener ours, someone else's (named), or nobody's. */
export type AddressVerdict =
  | { address: string; family: 4 | 6; held: 'ours'; inodes: string[] }
  | { address: string; family: 4 | 6; held: 'stranger'; strangers: Listener[] }
  | { address: string; family: 4 | 6; held: 'none' };

/**
 * For each target, whose listener receives it: `ours` only when every listener that may receive it is a socket the
 * service's processes hold (`ourInodes`: the inodes of their fds). A listener whose holder we cannot see is not ours.
 */
export function judgeAddresses(
  targets: readonly Target[],
  port: number,
  listeners: readonly Listener[],
  ourInodes: ReadonlySet<string>,
): AddressVerdict[] {
  return targets.map((target) => {
    const receiving = receivingListeners(target, port, listeners);
    const { address, family } = target;
    if (receiving.length === 0) return { address, family, held: 'none' };
    const strangers = receiving.filter((l) => !ourInodes.has(l.inode));
    if (strangers.length > 0) return { address, family, held: 'stranger', strangers };
    return { address, family, held: 'ours', inodes: receiving.map((l) => l.inode) };
  });
}

/** One process as /proc/<pid>/stat gives it: its parent and process group. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  pgid: number;
}

/** pid, ppid and pgid from /proc/<pid>/stat (the command name in parentheses may hold spaces and parentheses). */
export function parseStat(text: string): ProcessEntry | null {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close < 0 || !Number.isInteger(pid)) return null;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const [ppid, pgid] = [Number(rest[1]), Number(rest[2])];
  return Number.isInteger(ppid) && Number.isInteger(pgid) ? { pid, ppid, pgid } : null;
}

/** Whether a process's /proc/<pid>/cgroup puts it in `cgroup` or below it (any hierarchy's line). */
export function inCgroup(text: string, cgroup: string): boolean {
  const base = cgroup.replace(/\/+$/, '');
  if (base === '') return false; // the root cgroup holds everything: never a service's
  return text.split('\n').some((line) => {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    return path === base || path.startsWith(`${base}/`);
  });
}

/**
 * The service's processes among `all`: the `roots`, every descendant of them, every member of `pgid`'s process group,
 * and every process `inUnit` says is in the unit's control group.
 */
export function serviceTree(
  all: readonly ProcessEntry[],
  roots: { pids: readonly number[]; pgid?: number | undefined; inUnit?: ReadonlySet<number> | undefined },
): Set<number> {
  const alive = new Set(all.map((p) => p.pid));
  const tree = new Set<number>(roots.pids.filter((pid) => alive.has(pid)));
  for (const p of all)
    if ((roots.pgid !== undefined && p.pgid === roots.pgid) || roots.inUnit?.has(p.pid)) tree.add(p.pid);
  const children = new Map<number, number[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const queue = [...tree];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (tree.has(child)) continue;
      tree.add(child);
      queue.push(child);
    }
  }
  return tree;
}
