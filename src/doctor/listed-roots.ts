/**
 * The host's lists of roots (`--all` reads them) stay true: a listed root that no longer exists is named here, and
 * dropped by `--fix` from the lists this account edits (its own; the host's too for root). It never fails doctor: a
 * gone root elsewhere says nothing about this one, and a list only root edits is root's to fix (the hint says how).
 */
import { registeredRoots } from '../store/listed-roots.js';
import { forgetRootsIn } from '../store/roots-registry.js';
import type { CheckContext, CheckResult } from './checks.js';

const NAME = 'listed-roots';

/** undefined when no list names a root that is gone (nothing to say on a host with one root or none). */
export async function listedRoots(ctx: Pick<CheckContext, 'env' | 'fix'>): Promise<CheckResult | undefined> {
  const gone = (await registeredRoots({ env: ctx.env })).roots.filter((r) => r.state === 'missing');
  if (gone.length === 0) return undefined;
  const ours = gone.filter((r) => r.editable);
  const others = gone.filter((r) => !r.editable);
  const fixed: string[] = [];
  if (ctx.fix)
    for (const file of new Set(ours.map((r) => r.file)))
      fixed.push(
        ...(await forgetRootsIn(
          file,
          ours.filter((r) => r.file === file).map((r) => r.root),
        )),
      );
  const left = ctx.fix ? ours.filter((r) => !fixed.includes(r.root)) : ours;
  const says = [
    left.length > 0
      ? `listed, no longer there: ${left.map((r) => r.root).join(', ')} (doctor --fix or release-switcher forget --missing drops them)`
      : '',
    others.length > 0
      ? `listed by ${[...new Set(others.map((r) => r.file))].join(', ')}, which only root edits, and gone: ${others.map((r) => r.root).join(', ')} (sudo release-switcher forget ROOT drops them)`
      : '',
  ].filter(Boolean);
  return {
    name: NAME,
    ok: true,
    detail: says.length > 0 ? says.join('; ') : 'every listed root is there',
    ...(says.length > 0 ? { warning: true } : {}),
    ...(fixed.length > 0 ? { fixed: `dropped from the list: ${fixed.join(', ')}` } : {}),
  };
}
