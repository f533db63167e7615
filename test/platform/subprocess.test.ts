// The one subprocess helper: an abort or a timeout ends the child and what it started, promptly.
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { describeWhere, onLinux } from '../support/skip.ts';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import {
  endMarkedProcesses,
  jsonDocumentIn,
  processesMarked,
  run,
  runCaptured,
  spawnDetached,
  startDetached,
} from '../../src/platform/subprocess.ts';
import { alive, until } from '../support/processes.ts';

/** A shell that starts a 30 s sleep (the grandchild), prints its pid, then sleeps 30 s itself. */
const TREE = ['-c', 'sleep 30 & echo "grandchild $!"; sleep 30'];
const env = { PATH: '/usr/bin:/bin' };

/** Abort a running call: it rejects CANCELLED within 1.5 s, and the grandchild it started is gone as soon. */
async function expectCancelledPromptly(
  running: Promise<unknown>,
  controller: AbortController,
  grandchild: number,
): Promise<void> {
  const abortedAt = Date.now();
  controller.abort();
  const error = await running.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(Date.now() - abortedAt).toBeLessThan(1_500);
  expect(isReleaseSwitcherError(error) && error.code).toBe('CANCELLED');
  await until('the grandchild to be gone', () => !alive(grandchild), 1_500);
}

describeWhere(onLinux, 'run', () => {
  it('kills the child and its grandchild within about a second of an abort, and rejects with CANCELLED', async () => {
    const controller = new AbortController();
    let grandchild = 0;
    const running = run('sh', TREE, {
      env,
      timeoutMs: 60_000,
      signal: controller.signal,
      onLine: (line) => {
        const match = /^grandchild (\d+)$/.exec(line);
        if (match) grandchild = Number(match[1]);
      },
    });
    await until('the grandchild to start', () => grandchild > 0);
    expect(alive(grandchild)).toBe(true);
    await expectCancelledPromptly(running, controller, grandchild);
  });

  it('rejects with CANCELLED without starting anything when the signal is aborted already', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-subprocess-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const marker = path.join(dir, 'ran');
    const error = await run('sh', ['-c', `touch ${marker}`], {
      env,
      timeoutMs: 10_000,
      signal: AbortSignal.abort(),
    }).catch((e: unknown) => e);
    expect(isReleaseSwitcherError(error) && error.code).toBe('CANCELLED');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(() => readFileSync(marker)).toThrow();
  });

  it('on a timeout, returns timedOut even though a grandchild holds the output open, and kills it', async () => {
    let grandchild = 0;
    const startedAt = Date.now();
    const result = await run('sh', TREE, {
      env,
      timeoutMs: 500,
      onLine: (line) => {
        grandchild = Number(/^grandchild (\d+)$/.exec(line)?.[1] ?? grandchild);
      },
    });
    expect(result.timedOut).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(grandchild).toBeGreaterThan(0);
    await until('the grandchild to be gone', () => !alive(grandchild), 1_500);
  });

  it('still reports an ordinary exit and its output', async () => {
    const result = await run('sh', ['-c', 'echo out; echo err >&2; exit 3'], {
      env,
      timeoutMs: 10_000,
      signal: new AbortController().signal,
    });
    expect(result).toMatchObject({ exitCode: 3, failed: true, timedOut: false });
    expect(result.output).toContain('out');
    expect(result.output).toContain('err');
  });
});

// runCaptured: the same rules without execa (systemctl, and every boot-check, go through it).
describeWhere(onLinux, 'runCaptured', () => {
  it('kills the child and its grandchild on an abort, and rejects with CANCELLED', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-captured-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const pidFile = path.join(dir, 'grandchild');
    const controller = new AbortController();
    const running = runCaptured('sh', ['-c', `sleep 30 & echo $! > ${pidFile}; sleep 30`], {
      env,
      timeoutMs: 60_000,
      signal: controller.signal,
    });
    await until('the grandchild to start', () => Number(readFileSafe(pidFile)) > 0);
    const grandchild = Number(readFileSafe(pidFile));
    expect(alive(grandchild)).toBe(true);
    await expectCancelledPromptly(running, controller, grandchild);
  });

  it('on a timeout, returns timedOut even though a grandchild holds the output open, and kills it', async () => {
    const startedAt = Date.now();
    const result = await runCaptured('sh', TREE, { env, timeoutMs: 500 });
    expect(result.timedOut).toBe(true);
    expect(result.failed).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    const grandchild = Number(/grandchild (\d+)/.exec(result.output)?.[1]);
    expect(grandchild).toBeGreaterThan(0);
    await until('the grandchild to be gone', () => !alive(grandchild), 1_500);
  });

  it('reports the exit code and the interleaved output, one final newline stripped, as run does', async () => {
    const args = ['-c', 'echo out; echo err >&2; exit 3'];
    const captured = await runCaptured('sh', args, { env, timeoutMs: 10_000 });
    expect(captured).toEqual({
      exitCode: 3,
      failed: true,
      timedOut: false,
      output: expect.stringMatching(/^(out\nerr|err\nout)$/),
    });
    const viaExeca = await run('sh', args, { env, timeoutMs: 10_000 });
    expect(captured.output.split('\n').sort()).toEqual(viaExeca.output.split('\n').sort());
    expect(await runCaptured('sh', ['-c', 'printf "a=1\\nb=2\\n"'], { env, timeoutMs: 10_000 })).toEqual({
      exitCode: 0,
      failed: false,
      timedOut: false,
      output: 'a=1\nb=2',
    });
  });

  it('a command that does not exist is a failed result with no exit code, not a throw', async () => {
    const result = await runCaptured('/nonexistent/systemctl', ['show'], { env, timeoutMs: 10_000 });
    expect(result).toMatchObject({ exitCode: undefined, failed: true, timedOut: false });
    expect(result.output).toContain('ENOENT');
  });
});

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

describeWhere(onLinux, 'spawnDetached', () => {
  it('starts a process in a session of its own that writes to the log', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-detached-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const log = path.join(dir, 'runner.log');
    const pid = await spawnDetached(
      'sh',
      ['-c', 'echo "session $(ps -o sid= -p $$ | tr -d " ")"; sleep 0.2; echo done'],
      { env, logFile: log },
    );
    expect(pid).toBeGreaterThan(0);
    await until('the runner to finish', () => readFileSync(log, 'utf8').includes('done'));
    expect(readFileSync(log, 'utf8')).toContain(`session ${pid}`);
  });
});

describeWhere(onLinux, 'startDetached', () => {
  it('the child writes its output to its files itself, not through this process: it outlives a runner killed with -9', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-detached-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const logFile = path.join(dir, 'run.log');
    const stdoutFile = path.join(dir, 'run.json');
    const started = await startDetached('/bin/sh', ['-c', 'echo answer; echo said >&2; sleep 30'], {
      cwd: dir,
      env,
      logFile,
      stdoutFile,
    });
    onTestFinished(() => {
      try {
        process.kill(-started.pid, 'SIGKILL');
      } catch {}
    });
    // Its descriptors are the files (a pipe to this process breaks when it dies: the child's next write is EPIPE).
    expect(readlinkSync(`/proc/${started.pid}/fd/1`)).toBe(stdoutFile);
    expect(readlinkSync(`/proc/${started.pid}/fd/2`)).toBe(logFile);
    await until('its output', () => existsSync(logFile) && readFileSync(logFile, 'utf8') === 'said\n');
    expect(readFileSync(stdoutFile, 'utf8')).toBe('answer\n');
    process.kill(-started.pid, 'SIGKILL');
    expect(await started.exited).toBeNull();
  });

  it('refuses a link in place of its log, and leaves nothing open', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-detached-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'elsewhere'), 'kept\n');
    symlinkSync(path.join(dir, 'elsewhere'), path.join(dir, 'run.log'));
    const before = readdirSync('/proc/self/fd').length;
    const error = await startDetached('/bin/sh', ['-c', 'echo written'], {
      cwd: dir,
      env,
      logFile: path.join(dir, 'ok.log'),
      stdoutFile: path.join(dir, 'run.log'),
    }).catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).toBe('ELOOP');
    expect(readFileSync(path.join(dir, 'elsewhere'), 'utf8')).toBe('kept\n');
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });
});

describeWhere(onLinux, 'endMarkedProcesses', () => {
  it('ends every process marked for one id, grandchildren included, found from /proc alone; another id is left', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-marked-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const name = 'RS_TEST_MARK';
    // Both sleeps forked before the line the test waits for (`&` returns once the child exists): with TREE's foreground
    // sleep forked after the echo, a loaded machine (CI, load 8) listed the shell and one sleep only.
    const start = (value: string) =>
      startDetached('/bin/sh', ['-c', 'sleep 30 & g=$!; sleep 30 & echo "grandchild $g"; wait'], {
        cwd: dir,
        env: { ...env, [name]: value },
        logFile: path.join(dir, `${value}.log`),
      });
    const mine = await start(`a-${process.pid}`);
    const other = await start(`b-${process.pid}`);
    onTestFinished(() => {
      for (const pid of [mine.pid, other.pid]) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {}
      }
    });
    const marker = { name, value: `a-${process.pid}` };
    const log = () =>
      existsSync(path.join(dir, `${marker.value}.log`))
        ? readFileSync(path.join(dir, `${marker.value}.log`), 'utf8')
        : '';
    await until('the grandchild to start', () => log().includes('grandchild'));
    const grandchild = Number(/grandchild (\d+)/.exec(log())![1]);
    // The shell and its two sleeps (one of them the grandchild named); none of the other id's.
    const marked = await processesMarked(marker);
    expect(marked).toEqual(expect.arrayContaining([mine.pid, grandchild]));
    expect(marked).toHaveLength(3);
    expect(marked).not.toContain(other.pid);

    expect(await endMarkedProcesses(marker)).toBe(true);
    expect(await processesMarked(marker)).toEqual([]);
    expect(alive(mine.pid) || alive(grandchild)).toBe(false);
    expect(alive(other.pid)).toBe(true);
    expect(await endMarkedProcesses(marker)).toBe(false);
  });
});

describeWhere(onLinux, 'endMarkedProcesses, a marked process that keeps starting others', () => {
  it('none is left: what was forked while one SIGKILL pass ran is killed by the next', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rs-marked-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const marker = { name: 'RS_TEST_MARK', value: `spawner-${process.pid}` };
    // Deaf to SIGTERM, it starts a new session deaf to SIGTERM every few ms, until SIGKILL: children born after a
    // pass read /proc and before it reached their parent are in that pass's list of no one.
    const spawner = await startDetached(
      '/bin/sh',
      ['-c', `trap '' TERM; while :; do setsid sh -c "trap '' TERM; sleep 30" & sleep 0.005; done`],
      { cwd: dir, env: { ...env, [marker.name]: marker.value }, logFile: path.join(dir, 'spawner.log') },
    );
    onTestFinished(async () => {
      for (const pid of await processesMarked(marker)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    });
    await until('a few children', async () => (await processesMarked(marker)).length > 5);
    expect(await endMarkedProcesses(marker)).toBe(true);
    expect(alive(spawner.pid)).toBe(false);
    expect(await processesMarked(marker)).toEqual([]);
  });
});

describe('jsonDocumentIn: the JSON document a command printed, in output mixed with its stderr', () => {
  const doc = JSON.stringify({ status: 'ok', nested: { a: [1, 2] } }, null, 2);
  it('found among log lines that start or end with a brace, before and after it', () => {
    expect(jsonDocumentIn(doc)).toEqual({ status: 'ok', nested: { a: [1, 2] } });
    expect(jsonDocumentIn(`[plugins] warming {\n{ not json\n${doc}\n[done] bye`)).toEqual(JSON.parse(doc));
  });
  it('none in output without a whole document', () => {
    expect(jsonDocumentIn('Error: boom')).toBeUndefined();
    expect(jsonDocumentIn('{\n  "cut": ')).toBeUndefined();
    expect(jsonDocumentIn('')).toBeUndefined();
  });
});
