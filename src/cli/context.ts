/** What a CLI command receives and returns. Only src/cli prints or decides exit codes. */
import type { Runtime } from '../model/runtime.js';

export interface CommandContext {
  root: string;
  /** Parsed options of the command (strings, booleans, string lists). */
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  runtime: Runtime;
  json: boolean;
  /** The name the CLI runs under (help and hints), e.g. `openclaw releases` when a host mounts it. @default "release-switcher" */
  program?: string;
}

export interface CommandOutcome {
  /** The `result` of the JSON envelope. */
  result: unknown;
  /** Lines for people (stdout) when not --json. */
  human: string;
  /** Lines for people on stderr when not --json: remarks beside output that must stay exactly what it is (e.g. a file's text). */
  notes?: string;
  /** @default 0 */
  exitCode?: number;
  /** The envelope's `error` beside a whole `result` (`--all` where a root failed): `ok` is false then. */
  error?: { code: string; message: string; hint?: string };
}
