/**
 * Option readers shared by several commands. Kept apart from any one command's module so that a
 * command imports only what it runs: `switch` and `rollback` read --handoff without loading
 * `update` (and with it the registry client).
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import type { HandoffOptions } from '../transaction/schedule.js';
import type { CommandContext } from './context.js';

export function handoffOf(ctx: CommandContext): HandoffOptions['handoff'] {
  const value = ctx.values.handoff ?? 'auto';
  if (value !== 'auto' && value !== 'always' && value !== 'never') {
    throw new ReleaseSwitcherError('USAGE', `--handoff takes auto, always or never, not "${String(value)}".`, {
      hint: 'For example --handoff never',
    });
  }
  return value;
}
