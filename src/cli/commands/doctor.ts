import { doctor } from '../../verbs/doctor.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await doctor({
    root: ctx.root,
    fix: ctx.values.fix === true,
    deep: ctx.values.deep === true,
    ...ctx.runtime,
  });
  const human = result.checks
    .map(
      (c) =>
        `${c.warning ? 'warn' : c.ok ? 'ok  ' : c.fixed ? 'FIXED' : 'FAIL'} ${c.name.padEnd(11)} ${c.detail}${c.fixed ? ` — fixed: ${c.fixed}` : ''}`,
    )
    .join('\n');
  const failing = result.checks.filter((c) => !c.ok && !c.fixed);
  if (failing.length === 0) return { result, human };
  // A failed check is a non-zero exit; the checks still come back as the envelope's result.
  throw new ReleaseSwitcherError(
    'DOCTOR_FAILED',
    `${failing.length} check(s) failed: ${failing.map((c) => c.name).join(', ')}\n${human}`,
    {
      hint: 'Each failing check says how to fix it; doctor --fix repairs what is safe.',
      result,
    },
  );
}
