/**
 * The handshake: what a command a unit or the timer runs says of itself (`release-switcher handshake --json`), so
 * `doctor` can tell that the file is there, runs, is release-switcher and is the version it expects.
 */
import fs from 'node:fs/promises';
import { run } from '../platform/subprocess.js';
import { CLI_MAIN, ownVersion } from '../platform/self.js';
import { HANDSHAKE_PROTOCOL, type ToolCommand } from './home.js';

export interface Handshake {
  tool: 'release-switcher';
  version: string;
  protocol: number;
  /** The Node that answered (its path as started). */
  node: string;
  /** The CLI that answered, as Node resolved it: a command started through `current` answers from its version folder. */
  cli: string;
}

/** This process's answer. */
export async function handshake(): Promise<Handshake> {
  return {
    tool: 'release-switcher',
    version: await ownVersion(),
    protocol: HANDSHAKE_PROTOCOL,
    node: process.execPath,
    // As Node resolved it: through `current` it is the version folder's own (Node takes the main script's real path).
    cli: CLI_MAIN,
  };
}

/** Ask `command` for its handshake: the answer, or why there is none. */
export async function askHandshake(
  command: ToolCommand,
  options: { env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined },
): Promise<Handshake | { error: string }> {
  for (const file of [command.node, command.cli]) {
    const missing = await fs.access(file).then(
      () => undefined,
      (error: NodeJS.ErrnoException) => error.code ?? String(error),
    );
    if (missing) return { error: `${file} is not there (${missing})` };
  }
  const result = await run(command.node, [command.cli, '--json', 'handshake'], {
    env: options.env,
    signal: options.signal,
    timeoutMs: 30_000,
  }).catch((error: Error) => ({ exitCode: undefined, output: error.message, timedOut: false, failed: true }));
  const answer = envelopeIn(result.output) as { ok?: boolean; result?: Handshake } | undefined;
  if (result.exitCode !== 0 || answer?.ok !== true || answer.result?.tool !== 'release-switcher')
    return {
      error: `it does not answer the handshake (exit ${result.exitCode ?? '?'}: ${result.output.trim().split('\n').slice(-2).join(' ').slice(0, 200)})`,
    };
  return answer.result;
}

/** The `--json` envelope in output interleaved with stderr: the last line that parses as a JSON object. */
function envelopeIn(output: string): unknown {
  for (const line of output.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line);
    } catch {
      // a log line that starts with a brace
    }
  }
  return undefined;
}
