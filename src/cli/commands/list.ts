import { list } from '../../commands/list.js';
import type { CommandContext, CommandOutcome } from '../context.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await list({ root: ctx.root, ...ctx.runtime });
  const rows = result.releases.map((r) => {
    const marks = [r.current ? 'current' : '', r.previous ? 'previous' : '', r.pinned ? 'pinned' : ''].filter(Boolean).join(',');
    return `${r.current ? '*' : ' '} ${r.version.padEnd(20)} ${r.state.padEnd(10)} ${marks.padEnd(24)} ${r.installedAt}`;
  });
  return { result, human: rows.length ? rows.join('\n') : 'no releases installed' };
}
