import path from 'node:path';
import { ReleaseSwitcherError } from '../../model/errors.js';
import { unit } from '../../unit-files/unit.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/**
 * RELEASE_SWITCHER_BOOT_CHECK: a JSON argument list that replaces the ExecStartPre boot-check (`[]` drops it).
 * For tests that run the unit under a real manager with a build whose boot-check they do not exercise.
 */
function bootCheckFromEnv(env: NodeJS.ProcessEnv | undefined): string[] | null | undefined {
  const raw = env?.RELEASE_SWITCHER_BOOT_CHECK;
  if (raw === undefined || raw === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.some((a) => typeof a !== 'string')) {
    throw new ReleaseSwitcherError('USAGE', 'RELEASE_SWITCHER_BOOT_CHECK must be a JSON list of strings.', {
      hint: 'For example RELEASE_SWITCHER_BOOT_CHECK=\'["/bin/true"]\'',
    });
  }
  return value.length === 0 ? null : (value as string[]);
}

export async function run(ctx: CommandContext): Promise<CommandOutcome> {
  const entry = typeof ctx.values.entry === 'string' ? ctx.values.entry : undefined;
  const args = Array.isArray(ctx.values.arg) ? ctx.values.arg : undefined;
  const nodeOptions = Array.isArray(ctx.values['node-option']) ? ctx.values['node-option'] : undefined;
  const bootCheck = bootCheckFromEnv(ctx.runtime.env);
  const result = await unit({
    root: ctx.root,
    ...ctx.runtime,
    install: ctx.values.install === true,
    ...(entry === undefined ? {} : { entry }),
    ...(args === undefined ? {} : { args }),
    ...(nodeOptions === undefined ? {} : { nodeOptions }),
    ...(bootCheck === undefined ? {} : { bootCheck }),
  });
  const notes = [
    ...(result.kept ?? []).map((k) => `kept: ${k}`),
    ...(result.changed ?? []).map((c) => `changed: ${c}`),
  ];
  const said = notes.length > 0 ? `\n${notes.join('\n')}` : '';
  // Printed, stdout is exactly the file (`unit > file` gives a valid plist or drop-in); what was kept and changed goes to stderr.
  if (!result.installed)
    return { result, human: result.content, ...(notes.length > 0 ? { notes: notes.join('\n') } : {}) };
  const name =
    result.kind === 'drop-in'
      ? path.basename(path.dirname(result.path)).replace(/\.d$/, '')
      : path.basename(result.path);
  const systemctl = result.path.startsWith('/etc/systemd/system/') ? 'systemctl' : 'systemctl --user';
  const next =
    result.kind === 'drop-in'
      ? `restart it to apply: ${systemctl} restart ${name}`
      : `enable and start it: ${systemctl} enable --now ${name}`;
  return {
    result,
    human: `wrote ${result.path} (${result.kind === 'drop-in' ? `drop-in for ${name}` : 'unit'}) and reloaded the manager; ${next}${said}`,
  };
}
