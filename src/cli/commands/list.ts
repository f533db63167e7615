import { list } from '../../verbs/list.js';
import { formatBytes, releaseUsage } from '../../store/disk-usage.js';
import { layoutOf } from '../../store/layout.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { originText, table, warningText } from '../format.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const result = await list({ root: ctx.root, ...ctx.runtime });
  if (ctx.json) return { result, human: '' }; // sizes walk every file: only for people
  if (result.releases.length === 0) return { result, human: 'no releases installed' };
  const usage = await releaseUsage(
    layoutOf(ctx.root),
    result.releases.map((r) => r.version),
  );
  const rows = result.releases.map((r) => {
    const marks = [r.current ? 'current' : '', r.previous ? 'previous' : '', r.pinned ? 'pinned' : '']
      .filter(Boolean)
      .join(', ');
    const size = usage.get(r.version)!;
    return [
      `${r.current ? '*' : ' '} ${r.version}`,
      r.state + (r.state === 'bad' && r.reason ? ` (${r.reason.split(':')[0]})` : ''),
      marks,
      r.installedAt.replace('T', ' ').slice(0, 16),
      `${formatBytes(size.own)}${size.shared ? ` + ${formatBytes(size.shared)} shared` : ''}`,
    ];
  });
  // What the activation that verified a release passed on (a readiness lost, a finalize warning), under the table.
  const warned = result.releases.flatMap((r) =>
    (r.warnings ?? []).map((w) => `${r.version}: warning: ${warningText(w)}`),
  );
  // Who made the current release current, and why (a tick of the timer, a deprecation's rollback, a person).
  const current = result.releases.find((r) => r.current)?.activatedBy;
  const activated = current ? [`${result.current}: current since ${current.at}, ${originText(current)}`] : [];
  const human = table(['  VERSION', 'STATE', 'MARKS', 'INSTALLED (UTC)', 'ON DISK'], rows);
  return { result, human: [human, ...activated, ...warned].join('\n') };
}
