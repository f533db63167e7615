import { type InstallPlan, install, planInstall } from '../../verbs/install.js';
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { signaturePolicy } from '../options.js';

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const spec = ctx.positionals[0];
  if (!spec)
    throw new ReleaseSwitcherError('USAGE', 'install needs a SPEC.', {
      hint: 'For example: release-switcher install openclaw@latest',
    });
  const verifySignatures = signaturePolicy(ctx.values['verify-signatures']);
  if (ctx.values['dry-run'])
    return describePlan(await planInstall({ root: ctx.root, spec, verifySignatures, ...ctx.runtime }), false);
  const result = await install({ root: ctx.root, spec, verifySignatures, ...ctx.runtime });
  return {
    result,
    human: result.alreadyInstalled
      ? `${result.version} is already installed at ${result.path}`
      : `installed ${result.version} at ${result.path}${result.signatures ? `; registry signature ${result.signatures}` : ''}; reused ${result.reused.packages} packages (${result.reused.files} files, ${result.reused.bytes} bytes)${result.fallback ? `; full install: ${result.fallback}` : ''}`,
  };
}

export function describePlan(plan: InstallPlan, update: boolean): CommandOutcome {
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const size = [
    plan.tarballSize === null ? 'download size unknown' : `${mib(plan.tarballSize)} to download`,
    ...(plan.unpackedSize === null ? [] : [`${mib(plan.unpackedSize)} unpacked in ${plan.fileCount ?? '?'} files`]),
  ].join(', ');
  const lines = [
    `would ${plan.alreadyInstalled ? 'reuse the installed' : 'install'} ${plan.version} (${size}, plus ${plan.dependencies} direct dependencies)`,
    `from ${plan.from}`,
    `integrity ${plan.integrity ?? 'unknown'}, registry signature ${plan.signatures}`,
    ...(update
      ? [
          plan.current === plan.version
            ? `${plan.version} is already current: nothing to switch`
            : `then switch ${plan.current ?? '(none)'} → ${plan.version}`,
        ]
      : []),
  ];
  return { result: update ? { ...plan, wouldSwitch: plan.current !== plan.version } : plan, human: lines.join('\n') };
}
