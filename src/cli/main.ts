#!/usr/bin/env node
import { startCompileCache } from './compile-cache.js';

// Node 22.1+ keeps V8's compiled code of every module loaded after this call on disk, in a folder of this
// account's own (compile-cache.ts says why never the temp folder), so a later start compiles nothing it
// compiled before. Hence everything else is imported after it, dynamically.
startCompileCache();

// lazy: after startCompileCache(), so that V8 caches their code (above).
const { stopAllSubprocesses } = await import('../platform/subprocess.js');
const { runCli, SIGNAL_GRACE_MS, stoppedBy } = await import('./run.js'); // lazy: as the line above

// Each subprocess leads a process group of its own (platform/subprocess.ts), so a Ctrl-C or a kill no longer
// reaches it with us: the first signal aborts the run (its command rejects with CANCELLED, which the CLI reports:
// with --json, the one envelope the contract promises) and stops every group at once (also those whose caller passed
// no signal). A second signal, or a command still running SIGNAL_GRACE_MS later, dies of the signal as before.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const controller = new AbortController();
let received: NodeJS.Signals | undefined;
const die = (signal: NodeJS.Signals) => {
  for (const name of SIGNALS) process.removeAllListeners(name);
  process.kill(process.pid, signal);
};
for (const signal of SIGNALS) {
  process.on(signal, () => {
    if (received) return die(signal);
    received = signal;
    controller.abort(stoppedBy(signal));
    stopAllSubprocesses();
    setTimeout(() => die(signal), SIGNAL_GRACE_MS).unref();
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
// Without --json nothing promises a document, and a shell running a script stops it only for a child that died of
// the signal: die of it, now that the command has unwound (its staging removed, its lock released).
if (received && !process.argv.includes('--json')) die(received);
process.exitCode = code;
