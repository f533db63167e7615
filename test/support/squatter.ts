// Another local account that takes a port before our process does and answers its health probes as the release
// we expect (issue 55: "the process that answers is the process we started"). It runs as that account with its own
// rights only (setpriv, no capability): it reads other processes' command lines in /proc, as any account may, and
// binds loopback ports, as any account may. It prints one JSON line per port it took and per answer it gave.
import { type ChildProcess, spawn } from 'node:child_process';
import { type Account, asAccount } from './accounts.ts';
import { runnableBy } from './cli.ts';

export interface SquatOptions {
  /** The address it binds: `127.0.0.1`, or `::1` beside a gateway on 127.0.0.1. */
  host: string;
  /** What it answers on every GET: a healthy body with this version. */
  version: string;
  /**
   * `port`: take this port as soon as it is free (a service's port while it restarts). `watch`: take the `--port N`
   * of every new process whose command line contains `marker` (a rehearsal's candidate), or of the first one only.
   */
  take: { port: number } | { watch: 'every' | 'first'; marker: string; skip?: number[] };
}

export interface Squatter {
  /** The ports it holds or held. */
  taken(): number[];
  /** How many requests it answered. */
  answered(): number;
  /** Resolves once it holds `count` ports. */
  holding(count?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const SCRIPT = String.raw`
const { createServer } = require('node:http');
const { readdirSync, readFileSync } = require('node:fs');
const o = JSON.parse(process.argv[1]);
const seen = new Set(o.take.skip ?? []);
const say = (line) => process.stdout.write(JSON.stringify(line) + '\n');
function take(port) {
  const server = createServer((req, res) => {
    say({ answered: port, url: req.url });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', version: o.version }));
  });
  // Until it is free (held by the service until its restart stops it): again every 2 ms.
  server.on('error', () => setTimeout(() => { server.close(); server.listen(port, o.host); }, 2));
  server.listen(port, o.host, () => say({ taken: port }));
}
if (o.take.port) take(o.take.port);
else {
  const scan = () => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let argv;
      try { argv = readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\0'); } catch { continue; }
      const at = argv.indexOf('--port');
      if (at < 0 || !argv.join(' ').includes(o.take.marker)) continue;
      const port = Number(argv[at + 1]);
      if (!port || seen.has(port)) continue;
      seen.add(port);
      take(port);
      if (o.take.watch === 'first') return;
    }
    setTimeout(scan, 5);
  };
  scan();
}
`;

/** Starts the squatter as `who`; stop() ends it. */
export function squat(who: Account, options: SquatOptions): Squatter {
  const [command, args] = asAccount(who, runnableBy(who).node, ['-e', SCRIPT, JSON.stringify(options)]);
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' });
  const taken: number[] = [];
  let answered = 0;
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const said = JSON.parse(line) as { taken?: number; answered?: number };
      if (said.taken) taken.push(said.taken);
      if (said.answered) answered++;
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    taken: () => [...taken],
    answered: () => answered,
    async holding(count = 1, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (taken.length < count) {
        if (Date.now() > until) throw new Error(`the squatter holds ${taken.length} port(s), not ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      child.kill('SIGKILL'); // the child of setpriv is node itself (setpriv execs it): its pid is the squatter's
      await exited;
    },
  };
}
