/**
 * `doctor --fix`: point the boot-check and the timer's tick, in the unit files release-switcher wrote, at the pinned
 * copy through its link (tool/), changing nothing else of them: a unit line that still names the path npm put
 * release-switcher at (moved by `npm install -g`, an nvm upgrade, a new prefix) runs the pinned copy from then on.
 */
import fs from 'node:fs/promises';
import type { Config } from '../store/config.js';
import type { ToolCommand } from '../tool/index.js';
import { dropInPath, scopeOf, unitDir, unitPath, writeUnitFile } from './unit.js';
import { execWord } from './unit-text.js';
import { timerStem } from './timer.js';
import path from 'node:path';

const CLI_FILE = /dist\/cli\/main\.js"?$/;

/** `line` with the Node and CLI words before `--root … <verb>` replaced by `tool`'s; unchanged when it has none. */
export function repointLine(line: string, verb: string, tool: ToolCommand): string {
  if (!new RegExp(`^Exec\\w+=.*\\s${verb}(\\s|$)`).test(line)) return line;
  const words = line.split(' ');
  const at = words.findIndex((word) => CLI_FILE.test(word));
  if (at < 1) return line;
  const node = words[at - 1]!;
  // The first word keeps its `ExecStartPre=-` (and `+`) prefix when the Node is the line's first word.
  const prefix = /^(Exec\w+=[-+!@:]*)/.exec(node)?.[1] ?? '';
  words.splice(at - 1, 2, `${prefix}${execWord(tool.node)}`, execWord(tool.cli));
  return words.join(' ');
}

/** Repoint the files of ours that hold the boot-check or the tick; returns the files changed. */
export async function repointToolCommands(options: {
  config: Config;
  env: NodeJS.ProcessEnv;
  tool: ToolCommand;
}): Promise<string[]> {
  const { config, env, tool } = options;
  const where = { scope: scopeOf(config), env };
  const dir = unitDir(where);
  const files: Array<[string, string]> = [
    [dropInPath(config, where), 'boot-check'],
    [unitPath(config, where), 'boot-check'],
    [path.join(dir, `${timerStem(config)}.service`), 'auto-update'],
  ];
  const changed: string[] = [];
  for (const [file, verb] of files) {
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    // Only files release-switcher wrote (unit --install, timer --install: their first line says so).
    if (text === undefined || !text.startsWith('# Written by release-switcher')) continue;
    const next = text
      .split('\n')
      .map((line) => repointLine(line, verb, tool))
      .join('\n');
    if (next === text) continue;
    await writeUnitFile(file, next, where);
    changed.push(file);
  }
  return changed;
}
