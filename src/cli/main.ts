#!/usr/bin/env node
import { stopAllSubprocesses } from '../platform/subprocess.js';
import { runCli } from './run.js';

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
