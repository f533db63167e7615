/**
 * doctor's `tool` check: every command of release-switcher that the unit (its boot-check) and the auto-update timer run
 * is there, answers the handshake, is the version its tool home's `current` names, and goes through a pinned copy's
 * link (tool/), not through a path npm or nvm may move or remove. `--fix` makes (or finds) the pinned copy and points
 * the lines of the files release-switcher wrote at it.
 */
import path from 'node:path';
import { systemctl } from '../service/systemctl.js';
import { askHandshake } from '../tool/handshake.js';
import { type ToolCommand, ensureTool, homeOfLinkCommand, linkTarget, readMarker, toolLayout } from '../tool/index.js';
import { repointToolCommands } from '../unit-files/repoint.js';
import { timerStem } from '../unit-files/timer.js';
import type { CheckContext, CheckResult } from './checks.js';

const TIMEOUT_MS = 15_000;

interface Found {
  /** Where the command is: `<unit> ExecStartPre`. */
  where: string;
  command: ToolCommand;
}

/** The commands of `verb` a unit's property holds: `{ path=… ; argv[]=W… ; … }`, the CLI word and the Node before it. */
export function toolCommandsIn(shown: string, verb: string): ToolCommand[] {
  const out: ToolCommand[] = [];
  for (const match of shown.matchAll(/argv\[\]=([^;]*)/g)) {
    const words = match[1]!.trim().split(/\s+/);
    if (!words.includes(verb)) continue;
    const at = words.findIndex((word) => /\/dist\/cli\/main\.js$/.test(word));
    if (at >= 1) out.push({ node: words[at - 1]!, cli: words[at]! });
  }
  return out;
}

async function commandsOf(ctx: CheckContext): Promise<Found[]> {
  const scope = ctx.config.supervisor === 'systemd' ? 'user' : 'system';
  const show = (unit: string, property: string) =>
    systemctl(['show', unit, `--property=${property}`, '--value'], {
      scope,
      env: ctx.env,
      signal: ctx.signal,
      timeoutMs: TIMEOUT_MS,
    }).then((r) => (r.exitCode === 0 ? r.output : ''));
  const tick = `${timerStem(ctx.config)}.service`;
  return [
    ...toolCommandsIn(await show(ctx.config.unit!, 'ExecStartPre'), 'boot-check').map((command) => ({
      where: `${ctx.config.unit} ExecStartPre`,
      command,
    })),
    ...toolCommandsIn(await show(tick, 'ExecStart'), 'auto-update').map((command) => ({
      where: `${tick} ExecStart`,
      command,
    })),
  ];
}

/** What is wrong with one command, or undefined. */
async function problemOf(ctx: CheckContext, found: Found): Promise<string | undefined> {
  const { command, where } = found;
  const answer = await askHandshake(command, { env: ctx.env, signal: ctx.signal });
  if ('error' in answer) return `${where} runs ${command.cli}: ${answer.error}`;
  const home = homeOfLinkCommand(command);
  if (home === undefined)
    return `${where} runs ${command.cli} (release-switcher ${answer.version}), a path npm or nvm may move or remove, not a pinned copy`;
  const layout = toolLayout(home);
  const current = await linkTarget(layout.current).catch(() => null);
  const marker = current ? await readMarker(path.join(layout.versions, current)).catch(() => undefined) : undefined;
  if (marker && marker.version !== answer.version)
    return `${where} answers release-switcher ${answer.version}, but ${layout.current} names ${marker.version}`;
  return undefined;
}

export async function toolCommands(ctx: CheckContext): Promise<CheckResult | null> {
  const isSystemd = ctx.config.supervisor === 'systemd' || ctx.config.supervisor === 'systemd-system';
  if (!isSystemd || !ctx.config.unit) return null;
  const found = await commandsOf(ctx);
  if (found.length === 0) return null;
  const problems: string[] = [];
  for (const one of found) {
    const problem = await problemOf(ctx, one);
    if (problem) problems.push(problem);
  }
  if (problems.length === 0) {
    const answered = [...new Set(found.map((f) => homeOfLinkCommand(f.command)))];
    return {
      name: 'tool',
      ok: true,
      detail: `${found.map((f) => f.where).join(', ')} run release-switcher's pinned copy (${answered.join(', ')}) and answer its handshake`,
    };
  }
  const detail = `${problems.join('; ')}. Fix: release-switcher doctor --fix (or unit --install, timer --install)`;
  if (!ctx.fix) return { name: 'tool', ok: false, detail };
  const tool = await ensureTool({ env: ctx.env });
  const files = await repointToolCommands({ config: ctx.config, env: ctx.env, tool: tool.link });
  return {
    name: 'tool',
    ok: false,
    detail,
    ...(files.length > 0
      ? {
          fixed: `pointed ${files.join(', ')} at ${path.dirname(tool.link.node)} (release-switcher ${tool.currentVersion})`,
        }
      : {}),
  };
}
