/**
 * Whether a rehearsal failed because of the environment rather than the candidate. A candidate that cannot bind
 * because another process holds the port, that cannot write because the disk is full, or that refuses because its
 * private copy of the state is owned by a live process ("Another gateway (pid N) already owns this state directory",
 * seen on real openclaw) says nothing about the candidate: marking it `bad` would refuse a good release for good.
 * Each cause is proven against the host after the candidate is stopped, not taken from its words alone: the port is
 * still held, the disk is still (nearly) full, the process it names is alive.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import { isAlive } from '../platform/subprocess.js';
import { portHolders } from '../service/listener-owner.js';

export type EnvironmentReason = 'port_taken' | 'disk_full' | 'state_owned';

export interface EnvironmentCause {
  reason: EnvironmentReason;
  detail: string;
  /** The port found held (`port_taken`). */
  port?: number;
}

/** Below this much free space where the private copy lives, a failure is the disk's (a write failed or will). */
const NEARLY_FULL = 1024 * 1024;

export interface EnvironmentFacts {
  /** The candidate's output (its tail is enough). */
  output: string;
  /** The port the rehearsal gave it. */
  port: number;
  /** Where the private copy lives (its filesystem is the one that fills). */
  dir: string;
  /** Processes that are ours, never the owner (this process). */
  ours?: readonly number[];
}

/** The environment's cause of a failed rehearsal, once the candidate is stopped; undefined: the candidate's own. */
export async function environmentCause(facts: EnvironmentFacts): Promise<EnvironmentCause | undefined> {
  return (await diskFull(facts)) ?? (await portTaken(facts)) ?? ownedState(facts);
}

async function diskFull({ output, dir }: EnvironmentFacts): Promise<EnvironmentCause | undefined> {
  const said = /ENOSPC|no space left on device|EDQUOT|quota exceeded/i.test(output);
  const free = await fs.statfs(dir).then(
    (s) => s.bavail * s.bsize,
    () => undefined,
  );
  if (!said && (free === undefined || free >= NEARLY_FULL)) return undefined;
  const left = free === undefined ? '' : ` (${Math.round(free / 1024)} KiB free)`;
  return {
    reason: 'disk_full',
    detail: `${said ? 'it ran out of space' : 'the disk is full'} where its private copy of the state lives${left}`,
  };
}

async function portTaken({ output, port }: EnvironmentFacts): Promise<EnvironmentCause | undefined> {
  const match = /(?:EADDRINUSE|address already in use)[^\n]*/i.exec(output);
  if (!match) return undefined;
  const named = Number(/:(\d{1,5})\b/.exec(match[0])?.[1] ?? Number.NaN);
  const held = Number.isInteger(named) && named > 0 && named < 65536 ? named : port;
  if (!(await portHeld(held))) return undefined;
  const holders = await portHolders(held);
  const by = holders && holders.length > 0 ? `: ${holders.join('; ')}` : '';
  return {
    reason: 'port_taken',
    detail: `port ${held} is held by another process (it said: ${match[0].trim()})${by}`,
    port: held,
  };
}

/** Whether something listens on `port` of the loopback now (we cannot bind it). */
function portHeld(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** The candidate refused because of a process it names (`pid N`, `process N`) that is alive: the live service. */
async function ownedState({ output, ours = [] }: EnvironmentFacts): Promise<EnvironmentCause | undefined> {
  const own = /\b(?:own|lease|lock|held|holds|in use|still open|still active)/i;
  for (const line of output.split('\n')) {
    if (!own.test(line)) continue;
    for (const m of line.matchAll(/\b(?:pid|process)\s*[:=#]?\s*\(?(\d{2,8})\)?/gi)) {
      const pid = Number(m[1]);
      if (pid === process.pid || ours.includes(pid) || !isAlive(pid)) continue;
      const name = (await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
      return {
        reason: 'state_owned',
        detail: `its private copy of the state is owned by live process ${pid}${name ? ` (${name})` : ''}: ${line.trim()}`,
      };
    }
  }
  return undefined;
}
