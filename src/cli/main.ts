#!/usr/bin/env node
import { startCompileCache } from './compile-cache.js';

// Node 22.1+ keeps V8's compiled code of every module loaded after this call on disk, in a folder of this
// account's own (compile-cache.ts says why never the temp folder), so a later start compiles nothing it
// compiled before. Hence everything else is imported after it, dynamically.
startCompileCache();

const { stopAllSubprocesses } = await import('../platform/subprocess.js');
const { runCli } = await import('./run.js');

// Each subprocess leads a process group of its own (platform/subprocess.ts), so a Ctrl-C or a kill no
// longer reaches it with us: abort, stop every group (also those whose caller passed no signal), then
// die of the signal as before.
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    controller.abort(new Error(`received ${signal}`));
    stopAllSubprocesses();
    process.kill(process.pid, signal);
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
