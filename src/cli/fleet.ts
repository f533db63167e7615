/**
 * `--all`: the command's own per-root code (its CommandModule, as it runs without `--all`) on every root the host's
 * lists name, through verbs/fleet.ts; each root's output under its name, one summary table, one envelope, the worst
 * exit code (EXIT_SEVERITY).
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { type AcrossRootsResult, type RootOutcome, acrossRoots, registeredRoots } from '../verbs/fleet.js';
import type { CommandContext, CommandOutcome } from './context.js';
import type { CommandModule } from './definition-types.js';
import { table } from './format.js';

/** The commands whose `--all` is a rollout: a canary first, a stop at failures. */
const ROLLOUTS = new Set(['update', 'rollback']);

export async function runAll(command: string, module: CommandModule, ctx: CommandContext): Promise<CommandOutcome> {
  if (ctx.values.root !== undefined)
    throw new ReleaseSwitcherError('USAGE', '--all runs on every listed root; --root names one.', {
      hint: 'Give --all or --root, not both.',
    });
  const listed = await registeredRoots({ env: ctx.runtime.env });
  const humans = new Map<string, string>();
  const across = await acrossRoots({
    roots: listed.roots,
    ...(ROLLOUTS.has(command) ? { rollout: rolloutOf(ctx) } : {}),
    run: async (root) => {
      const outcome = await module.run({ ...ctx, root });
      humans.set(root, outcome.human);
      return { result: outcome.result, exitCode: outcome.exitCode ?? 0 };
    },
    onRoot: (root, index, count) =>
      ctx.runtime.onProgress?.({ phase: 'fleet', message: `${command} on ${root} (${index + 1} of ${count})` }),
  });
  const { exitCode, ...rest } = across;
  const result = { command, ...rest, unreadableFiles: listed.unreadableFiles };
  const human = ctx.json ? '' : humanOf(across, humans, listed.unreadableFiles);
  const error = exitCode === 0 ? undefined : errorOf(command, across);
  return { result, human, exitCode, ...(error ? { error } : {}) };
}

function rolloutOf(ctx: CommandContext): { canary?: string; maxFailures?: number } {
  const canary = ctx.values.canary;
  const max = ctx.values['max-failures'];
  const maxFailures = max === undefined ? undefined : Number(max);
  if (maxFailures !== undefined && !(Number.isInteger(maxFailures) && maxFailures >= 1))
    throw new ReleaseSwitcherError('USAGE', `--max-failures takes a whole number ≥ 1, not "${String(max)}".`, {
      hint: 'For example --max-failures 2',
    });
  return {
    ...(typeof canary === 'string' ? { canary: canary } : {}),
    ...(maxFailures !== undefined ? { maxFailures } : {}),
  };
}

function detailOf(o: RootOutcome): string {
  if (o.code && o.exitCode !== 0) return `${o.code}: ${o.message?.split('\n')[0] ?? ''}`;
  const tx = o.transaction as { from?: string | null; to?: string | null } | undefined;
  if (tx) return `${tx.from ?? '(none)'} -> ${tx.to ?? '(none)'}`;
  if (o.status === 'skipped') return o.message ?? '';
  const current = (o.result as { current?: unknown } | undefined)?.current;
  return typeof current === 'string' ? `current ${current}` : '';
}

function humanOf(
  across: AcrossRootsResult,
  humans: Map<string, string>,
  unreadableFiles: Array<{ file: string; message: string; hint?: string }>,
): string {
  if (across.roots.length === 0)
    return 'no roots listed: release-switcher init records each root it makes (docs/fleet.md)';
  const blocks = across.roots
    .filter((o) => humans.has(o.root) || (o.code && o.exitCode !== 0))
    .map((o) => {
      const body = humans.get(o.root) || `error ${o.code}: ${o.message}${o.hint ? `\nhint: ${o.hint}` : ''}`;
      return `== ${o.root} ==\n${body.trimEnd()}`;
    });
  const rows = across.roots.map((o) => [o.root, o.status, String(o.exitCode), detailOf(o)]);
  const ran = across.roots.filter((o) => !['not_run', 'skipped', 'missing', 'untrusted'].includes(o.status)).length;
  const notRun = across.roots.filter((o) => o.status === 'not_run').length;
  const summary = [
    `${ran} of ${across.roots.length} roots run, ${across.failures} failed`,
    ...(across.stopped ? [`stopped: ${notRun} not run (--max-failures ${across.maxFailures})`] : []),
    ...unreadableFiles.map((f) => `list not read: ${f.file}: ${f.message}${f.hint ? `\nhint: ${f.hint}` : ''}`),
  ].join('\n');
  return [...blocks, table(['ROOT', 'STATUS', 'EXIT', 'DETAIL'], rows), summary].join('\n\n');
}

function errorOf(command: string, across: AcrossRootsResult): { code: string; message: string; hint?: string } {
  const failed = across.roots.filter((o) => o.exitCode !== 0);
  // The code of the root that decided the exit code (the worst), so a script reads the same code it would alone.
  const first = failed.find((o) => o.exitCode === across.exitCode && o.code) ?? failed.find((o) => o.code);
  return {
    code: first?.code ?? 'INTERNAL',
    message: `${command} --all: ${failed.length} of ${across.roots.length} roots did not succeed: ${failed.map((o) => `${o.root} (${o.status}${o.code ? `, ${o.code}` : ''})`).join(', ')}`,
    ...(first?.hint ? { hint: first.hint } : {}),
  };
}
