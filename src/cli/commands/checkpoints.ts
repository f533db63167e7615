import { formatBytes } from '../../store/disk-usage.js';
import { checkpoints } from '../../verbs/checkpoints.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { table } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await checkpoints({ root: ctx.root, ...ctx.runtime });
  if (result.checkpoints.length === 0) return { result, human: 'no state checkpoints' };
  const rows = result.checkpoints.map((c) => [
    c.id,
    c.kind === 'set-aside'
      ? `${c.fromVersion}'s state, set aside`
      : `${c.fromVersion ?? '-'}'s state, before ${c.toVersion}`,
    c.takenAt.replace('T', ' ').slice(0, 16),
    formatBytes(c.size),
  ]);
  return { result, human: table(['ID', 'HOLDS', 'TAKEN (UTC)', 'SIZE'], rows) };
}
