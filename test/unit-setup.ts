// The unit tier runs its files one after another in each worker, sharing its modules (`isolate: false`,
// vitest.config.ts: a process and a fresh import of the library per file cost more than most of these files' tests).
// So each file starts as it would in a process of its own, what a file changed of the process is put back before the
// next: its environment (runThisFileAsRoot sets RS_TESTS_AS), its umask and its working folder; and the per-file
// clean-up of test/support/cli.ts, registered once when that module is first imported, is registered for every file.
import { cleanAfterFile } from './support/cli.ts';

interface Initial {
  env: NodeJS.ProcessEnv;
  umask: number;
  cwd: string;
}
const held = globalThis as { rsUnitInitial?: Initial };
// The first file's setup runs before any of its code: the process as the worker started it.
held.rsUnitInitial ??= { env: { ...process.env }, umask: process.umask(), cwd: process.cwd() };
const initial = held.rsUnitInitial;

function restore(): void {
  for (const name of Object.keys(process.env)) if (!(name in initial.env)) delete process.env[name];
  Object.assign(process.env, initial.env);
  process.umask(initial.umask);
  if (process.cwd() !== initial.cwd) process.chdir(initial.cwd);
}

// Run before each file is imported: what the previous file of this worker changed is undone before this one's code.
restore();
cleanAfterFile();
