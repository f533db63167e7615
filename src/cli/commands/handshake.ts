import { handshake } from '../../tool/handshake.js';
import type { CommandContext, CommandOutcome } from '../context.js';

/** What this CLI is, for `doctor` asking a command a unit runs (tool/handshake.ts). Reads nothing of a root. */
export async function run(_ctx: CommandContext): Promise<CommandOutcome> {
  const answer = await handshake();
  return {
    result: answer,
    human: `${answer.tool} ${answer.version} (handshake protocol ${answer.protocol})\nnode ${answer.node}\ncli  ${answer.cli}`,
  };
}
