// The decision "whose listener would receive this address" as pure functions over the kernel's text: the tables of
// /proc/net/tcp{,6}, /proc/<pid>/fd links, /proc/<pid>/stat and /proc/<pid>/cgroup (src/service/listener-table.ts).
import { describe, expect, it } from 'vitest';
import {
  type Listener,
  canonical,
  inCgroup,
  judgeAddresses,
  parseStat,
  parseTcpTable,
  receivingListeners,
  serviceTree,
  socketInode,
} from '../../src/service/listener-table.ts';
import { parseLaunchctlPrint } from '../../src/service/supervisors/launchd.ts';
import { pm2StateOf } from '../../src/service/supervisors/pm2.ts';
import { parseShow } from '../../src/service/supervisors/systemd.ts';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
// Lines as this kernel printed them (x86_64, little-endian): 127.0.0.1:45001 LISTEN of uid 1000, an established
// connection on the same port (not a listener), 0.0.0.0:8080 of uid 0.
const TCP = `${HEADER}   0: 0100007F:AFC9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 23562 1 0000000040dd58a5 100 0 0 10 0
   1: 0100007F:AFC9 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 23570 1 0000000040dd58a6 20 4 30 10 -1
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1681 1 0000000098a4ca43 100 0 0 10 0
`;
// [::1]:45001 of uid 1001, [::]:9000 of uid 0, [::ffff:127.0.0.1]:7000 of uid 1000.
const TCP6 = `${HEADER}   0: 00000000000000000000000001000000:AFC9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 23563 1 00000000da72d015 100 0 0 10 0
   1: 00000000000000000000000000000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 00000000da72d016 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1B58 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1 00000000da72d017 100 0 0 10 0
`;

const listener = (family: 4 | 6, address: string, port: number, inode: string, uid = 1000): Listener => ({
  family,
  address,
  port,
  uid,
  inode,
});

describe('parseTcpTable', () => {
  it('reads LISTEN sockets only: address in the host byte order, port, uid, inode', () => {
    expect(parseTcpTable(TCP, 4)).toEqual([
      listener(4, '127.0.0.1', 45001, '23562'),
      listener(4, '0.0.0.0', 8080, '1681', 0),
    ]);
  });

  it('reads IPv6 addresses as four host-order words, canonically spelled (::1, ::, a mapped IPv4)', () => {
    expect(parseTcpTable(TCP6, 6)).toEqual([
      listener(6, '::1', 45001, '23563', 1001),
      listener(6, '::', 9000, '555', 0),
      listener(6, '::ffff:7f00:1', 7000, '777'),
    ]);
  });

  it('a big-endian host prints the words the other way round', () => {
    const be = `${HEADER}   0: 7F000001:AFC9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 9 1 0 100 0 0 10 0\n`;
    expect(parseTcpTable(be, 4, false)).toEqual([listener(4, '127.0.0.1', 45001, '9')]);
  });

  it('skips lines that are not a socket (a truncated line, garbage, the header alone)', () => {
    expect(parseTcpTable(`${HEADER}   0: 0100007F:AFC9\nnonsense\n`, 4)).toEqual([]);
    expect(parseTcpTable(HEADER, 6)).toEqual([]);
  });
});

describe('socketInode, parseStat, inCgroup', () => {
  it('a socket link gives its inode; any other link none', () => {
    expect(socketInode('socket:[23562]')).toBe('23562');
    expect(socketInode('pipe:[23562]')).toBeNull();
    expect(socketInode('/tmp/socket:[1]')).toBeNull();
  });

  it('reads pid, ppid and pgid past a command name with spaces and parentheses', () => {
    expect(parseStat('4242 (node (a) b) S 17 4242 17 0 -1 4194560 1 0 0 0')).toEqual({
      pid: 4242,
      ppid: 17,
      pgid: 4242,
    });
    expect(parseStat('')).toBeNull();
  });

  it('a process is in a unit when a hierarchy line names its control group or one below; the root never counts', () => {
    const cg = '/rs-mgr/user@1000.service/app.slice/gw.service';
    expect(inCgroup(`9:name=systemd:${cg}\n0::${cg}\n`, cg)).toBe(true);
    expect(inCgroup(`0::${cg}/worker\n`, cg)).toBe(true);
    expect(inCgroup(`0::${cg}-other\n`, cg)).toBe(false);
    expect(inCgroup('0::/\n', '/')).toBe(false);
  });
});

describe('serviceTree', () => {
  const all = [
    { pid: 1, ppid: 0, pgid: 1 },
    { pid: 10, ppid: 1, pgid: 10 }, // the main process
    { pid: 11, ppid: 10, pgid: 10 }, // its worker
    { pid: 12, ppid: 11, pgid: 10 }, // the worker's child
    { pid: 13, ppid: 1, pgid: 10 }, // reparented to init, still in the group
    { pid: 20, ppid: 1, pgid: 20 }, // someone else
    { pid: 30, ppid: 1, pgid: 30 }, // in the unit's cgroup (a double fork)
  ];

  it('the roots and their descendants; a dead root is dropped', () => {
    expect([...serviceTree(all, { pids: [10, 99] })].sort()).toEqual([10, 11, 12]);
  });

  it('the process group and the unit members too', () => {
    expect([...serviceTree(all, { pids: [10], pgid: 10, inUnit: new Set([30]) })].sort((a, b) => a - b)).toEqual([
      10, 11, 12, 13, 30,
    ]);
  });

  it('no roots, nothing', () => {
    expect(serviceTree(all, { pids: [] }).size).toBe(0);
  });
});

describe('receivingListeners: the kernel picks the exact address, then the wildcard of the family, then ::', () => {
  const all = [
    listener(4, '127.0.0.1', 5000, 'exact4'),
    listener(4, '0.0.0.0', 5000, 'any4'),
    listener(6, '::', 5000, 'any6'),
    listener(6, '::1', 5000, 'exact6'),
    listener(4, '127.0.0.1', 5001, 'other-port'),
  ];

  it('IPv4: the exact listener over the wildcards; another port never', () => {
    expect(receivingListeners({ address: '127.0.0.1', family: 4 }, 5000, all).map((l) => l.inode)).toEqual(['exact4']);
    expect(receivingListeners({ address: '127.0.0.2', family: 4 }, 5000, all).map((l) => l.inode)).toEqual(['any4']);
    expect(
      receivingListeners({ address: '127.0.0.2', family: 4 }, 5000, [listener(6, '::', 5000, 'any6')]).map(
        (l) => l.inode,
      ),
    ).toEqual(['any6']);
  });

  it('IPv6: the exact listener, else ::; an IPv4 listener never receives it', () => {
    expect(receivingListeners({ address: '0:0:0:0:0:0:0:1', family: 6 }, 5000, all).map((l) => l.inode)).toEqual([
      'exact6',
    ]);
    expect(receivingListeners({ address: 'fd00::2', family: 6 }, 5000, all).map((l) => l.inode)).toEqual(['any6']);
    expect(receivingListeners({ address: '::1', family: 6 }, 5000, [listener(4, '0.0.0.0', 5000, 'x')])).toEqual([]);
  });

  it('an IPv4 address bound through its mapped IPv6 form is exact; a mapped target is its IPv4 address', () => {
    const mapped = [listener(6, '::ffff:7f00:1', 7000, 'm'), listener(4, '0.0.0.0', 7000, 'any4')];
    expect(receivingListeners({ address: '127.0.0.1', family: 4 }, 7000, mapped).map((l) => l.inode)).toEqual(['m']);
    expect(receivingListeners({ address: '::ffff:127.0.0.1', family: 6 }, 7000, mapped).map((l) => l.inode)).toEqual([
      'm',
    ]);
  });

  it('SO_REUSEPORT on one exact address: every one of them may answer', () => {
    const shared = [listener(4, '127.0.0.1', 5000, 'a'), listener(4, '127.0.0.1', 5000, 'b')];
    expect(receivingListeners({ address: '127.0.0.1', family: 4 }, 5000, shared)).toHaveLength(2);
  });
});

describe('judgeAddresses: ours only when every listener that may receive the address is a socket of ours', () => {
  const gateway = listener(4, '127.0.0.1', 18000, 'gw', 1000);
  const mallory = listener(6, '::1', 18000, 'mal', 1001);
  const localhost = [
    { address: '::1', family: 6 as const },
    { address: '127.0.0.1', family: 4 as const },
  ];

  it('localhost resolving to both, the gateway on 127.0.0.1 and another account on [::1]: ::1 is a stranger', () => {
    expect(judgeAddresses(localhost, 18000, [gateway, mallory], new Set(['gw']))).toEqual([
      { address: '::1', family: 6, held: 'stranger', strangers: [mallory] },
      { address: '127.0.0.1', family: 4, held: 'ours', inodes: ['gw'] },
    ]);
  });

  it('the port number alone proves nothing: a listener of ours on another address does not make ::1 ours', () => {
    const [v6] = judgeAddresses([localhost[0]!], 18000, [gateway, mallory], new Set(['gw']));
    expect(v6?.held).toBe('stranger');
  });

  it('a listener nobody of ours holds (another user: its fds unreadable) is a stranger; no listener is none', () => {
    expect(judgeAddresses([localhost[1]!], 18000, [gateway], new Set())[0]).toMatchObject({ held: 'stranger' });
    expect(judgeAddresses([localhost[1]!], 18001, [gateway], new Set(['gw']))[0]).toEqual({
      address: '127.0.0.1',
      family: 4,
      held: 'none',
    });
  });

  it('two listeners sharing the address, one not ours: not ours', () => {
    const twin = listener(4, '127.0.0.1', 18000, 'twin', 1000);
    expect(judgeAddresses([localhost[1]!], 18000, [gateway, twin], new Set(['gw']))[0]).toMatchObject({
      held: 'stranger',
      strangers: [twin],
    });
  });
});

describe('canonical', () => {
  it('one spelling per address; a zone dropped; not an address: null', () => {
    expect(canonical('0:0:0:0:0:0:0:1', 6)).toBe('::1');
    expect(canonical('FE80::1%eth0', 6)).toBe('fe80::1');
    expect(canonical('127.0.0.1', 4)).toBe('127.0.0.1');
    expect(canonical('localhost', 4)).toBeNull();
    expect(canonical('not:an:address:at:all:x', 6)).toBeNull();
  });
});

describe("what each supervisor names as the service's processes (whose listener may answer)", () => {
  it('pm2: every instance of the app; in cluster mode their parent too (its daemon holds the shared listener)', () => {
    const fork = [
      { name: 'gw', pid: 41, pm2_env: { status: 'online' } },
      { name: 'other', pid: 50 },
    ];
    expect(pm2StateOf('gw', fork).processes).toEqual({ pids: [41] });
    const cluster = [1, 2].map((i) => ({
      name: 'gw',
      pid: 40 + i,
      pm2_env: { status: 'online', exec_mode: 'cluster_mode' },
    }));
    expect(pm2StateOf('gw', cluster).processes).toEqual({ pids: [41, 42], parentsToo: true });
    expect(pm2StateOf('gone', fork).processes).toEqual({ pids: [] });
  });

  it('systemd: the control group beside the main PID; launchd: its job process', () => {
    expect(parseShow('ActiveState=active\nMainPID=7\nControlGroup=/system.slice/gw.service\n').processes).toEqual({
      pids: [7],
      cgroup: '/system.slice/gw.service',
    });
    expect(parseShow('ActiveState=inactive\nMainPID=0\nControlGroup=\n').processes).toEqual({ pids: [] });
    expect(parseLaunchctlPrint('\tstate = running\n\tpid = 9\n').processes).toEqual({ pids: [9] });
  });
});
