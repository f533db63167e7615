import path from 'node:path';
import { forget } from '../../verbs/fleet.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/** `forget [DIR] [--missing]`: DIR, else --root (or the default root) unless --missing alone is asked. */
export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const named = ctx.positionals[0];
  const missing = ctx.values.missing === true;
  const roots =
    named !== undefined ? [path.resolve(ctx.runtime.cwd ?? process.cwd(), named)] : missing ? [] : [ctx.root];
  const result = await forget({ roots, missing, env: ctx.runtime.env });
  const human =
    result.forgotten.length === 0
      ? `no listed root to forget${roots.length > 0 ? ` (${roots.join(', ')} is on no list this account may change)` : ''}`
      : result.forgotten.map((f) => `forgot ${f.root} (${f.file})`).join('\n');
  return { result, human };
}
