/**
 * `openclaw releases list | status | update [VERSION] | switch VERSION | rollback [VERSION] | doctor`: release-switcher's
 * own CLI (runCli) mounted under OpenClaw's, so the options, the `--json` envelope, the output and the exit codes
 * are release-switcher's. Only two things are added: the root comes from the plugin's config (`--root` still
 * wins), and `update VERSION` takes a bare version, as the gateway RPC does, meaning `<package>@VERSION`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli } from 'release-switcher';
import { Refusal, rootHint } from './root.js';

export const SUBCOMMANDS = ['list', 'status', 'update', 'switch', 'rollback', 'doctor'] as const;
export const PROGRAM = 'openclaw releases';

/** A refusal reported as release-switcher reports its errors: the envelope with --json, two lines on stderr without. */
function report(refusal: Refusal, json: boolean, io: CliStreams): number {
  const { code, message, hint } = refusal;
  if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code, message, ...(hint ? { hint } : {}) } })}\n`);
  else io.stderr.write(`${PROGRAM}: error ${code}: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  return code === 'USAGE' ? 2 : 1;
}

/** The first word that is not an option (or the value of `--root`), and where it is. */
function commandWord(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return -1;
    if (arg === '--root') i++;
    else if (!arg.startsWith('-')) return i;
  }
  return -1;
}

async function packageOf(root: string): Promise<string | undefined> {
  const text = await readFile(path.join(root, 'config.json'), 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as { package?: string }).package : undefined;
}

/**
 * The argv runCli gets: `--root` from the plugin's config unless given, and `update 2026.9.6` as
 * `update <package>@2026.9.6`. Returns a usage failure instead for a command outside the six.
 */
export async function releasesArgv(
  argv: readonly string[],
  options: { root: string; openclawEntry: string; env: NodeJS.ProcessEnv },
): Promise<{ argv: string[] } | { refused: Refusal }> {
  const out = [...argv];
  const at = commandWord(out);
  const word = at >= 0 ? out[at]! : undefined;
  if (word && !(SUBCOMMANDS as readonly string[]).includes(word))
    return {
      refused: new Refusal(
        'USAGE',
        `"${word}" is not a command of ${PROGRAM} (${SUBCOMMANDS.join(', ')}).`,
        `Run ${PROGRAM} --help, or release-switcher ${word} from a shell.`,
      ),
    };
  const rootAt = out.findIndex((arg) => arg === '--root' || arg.startsWith('--root='));
  const flag = rootAt < 0 ? undefined : out[rootAt]!;
  const root = path.resolve(
    flag === undefined ? options.root : flag.startsWith('--root=') ? flag.slice(7) : (out[rootAt + 1] ?? ''),
  );
  if (word && !out.includes('--help') && !out.includes('-h')) {
    const pkg = await packageOf(root);
    // release-switcher's own hint would say `init`, which this mount does not offer: say how to adopt instead.
    if (!pkg) {
      const unit = options.env.OPENCLAW_SYSTEMD_UNIT ?? 'openclaw-gateway.service';
      return {
        refused: new Refusal(
          'NOT_INITIALIZED',
          `No release-switcher root at ${root}. Nothing was changed.`,
          await rootHint({ root, entry: options.openclawEntry, unit }),
        ),
      };
    }
    const target = word === 'update' ? out.slice(at + 1).find((arg) => !arg.startsWith('-')) : undefined;
    // A bare version (it starts with a digit) is the root's package at that version; a spec stays a spec.
    if (target && /^\d/.test(target)) out[out.indexOf(target, at + 1)] = `${pkg}@${target}`;
  }
  return { argv: rootAt < 0 ? ['--root', root, ...out] : out };
}

export interface CliStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

/** Runs one `openclaw releases …` invocation; resolves with its exit code. */
export async function runReleases(
  argv: readonly string[],
  options: { root: string; openclawEntry: string; io: CliStreams; cliPath?: string | undefined },
): Promise<number> {
  const { io } = options;
  const prepared = await releasesArgv(argv, { root: options.root, openclawEntry: options.openclawEntry, env: io.env });
  if ('refused' in prepared) return report(prepared.refused, argv.includes('--json'), io);
  return runCli(prepared.argv, {
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    programName: PROGRAM,
    ...(options.cliPath ? { cliPath: options.cliPath } : {}),
  });
}

/** What follows `releases` on OpenClaw's command line (its root options before it are OpenClaw's). */
export function argvAfter(processArgv: readonly string[], word = 'releases'): string[] {
  const at = processArgv.indexOf(word, 2);
  return at < 0 ? [] : processArgv.slice(at + 1);
}
