/**
 * The port a service really listens on, read the way the service itself decides it: a flag in its arguments, else
 * its environment (the unit's Environment= and EnvironmentFile=), else its own config file, in the order the
 * preset says (openclaw: `--port` > OPENCLAW_GATEWAY_PORT > `gateway.port` of openclaw.json > 18789).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import JSON5 from 'json5';
import type { ConfigLocator, PortSources } from '../presets/index.js';
import type { ExistingUnit } from './existing-unit.js';

export interface FoundPort {
  port: number;
  /** Where it came from, e.g. `ExecStart --port 19001`, `Environment=OPENCLAW_GATEWAY_PORT=19001`, `config /h/.openclaw/openclaw.json gateway.port`. */
  from: string;
}

export interface PortFinding {
  port: FoundPort | null;
  /** What could not be read on the way (an unreadable config file, an `$include` not followed). */
  notes: string[];
}

/** A port as an environment variable may give it: `N`, `host:N` or `[v6]:N` (openclaw's parseGatewayPortEnvValue). */
export function parsePortValue(raw: string | undefined): number | null {
  const value = raw?.trim();
  if (!value) return null;
  const digits = /^\d+$/.test(value)
    ? value
    : (/^\[[^\]]+\]:(\d+)$/.exec(value)?.[1] ?? /^[^:]+:(\d+)$/.exec(value)?.[1]);
  const port = digits === undefined ? NaN : Number(digits);
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : null;
}

/** `KEY=VALUE` lines of a systemd EnvironmentFile: `#`/`;` comments, quotes, backslash escapes in double quotes. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/^export\s+/, '');
    const eq = line.indexOf('=');
    if (line === '' || line.startsWith('#') || line.startsWith(';') || eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    else if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}

/**
 * The environment the unit's process starts with, as far as its files say: HOME of the manager's user (ours: adopt
 * runs as the service's user), then Environment=, then EnvironmentFile= (which overrides Environment=, systemd.exec).
 * `sources` says where each variable came from.
 */
export async function unitEnvironment(
  unit: ExistingUnit,
  host: NodeJS.ProcessEnv,
): Promise<{ env: Record<string, string>; sources: Record<string, string>; notes: string[] }> {
  const env: Record<string, string> = {};
  const sources: Record<string, string> = {};
  const notes: string[] = [];
  if (host.HOME) {
    env.HOME = host.HOME;
    sources.HOME = 'the manager';
  }
  for (const [key, value] of Object.entries(unit.environment)) {
    env[key] = value;
    sources[key] = `Environment=${key}=${value}`;
  }
  for (const entry of unit.environmentFiles ?? []) {
    const optional = entry.startsWith('-');
    const file = optional ? entry.slice(1) : entry;
    if (!path.isAbsolute(file) || file.includes('%')) {
      notes.push(`EnvironmentFile=${entry} not read (not an absolute path without specifiers)`);
      continue;
    }
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) {
      if (!optional) notes.push(`EnvironmentFile=${file} not readable`);
      continue;
    }
    for (const [key, value] of Object.entries(parseEnvironmentFile(text))) {
      env[key] = value;
      sources[key] = `EnvironmentFile=${file}: ${key}=${value}`;
    }
  }
  return { env, sources, notes };
}

/** A number at a dot path of a JSON5 config file (as the service reads it); undefined with a note when there is none. */
async function configPort(file: string, key: string, notes: string[]): Promise<number | undefined> {
  const at = await configValue(file, key, notes);
  // The service takes only a number > 0 there (a string, even "${VAR}", is not used).
  if (typeof at === 'number' && Number.isInteger(at) && at > 0 && at <= 65535) return at;
  if (at !== undefined) notes.push(`config ${file} ${key} is ${JSON.stringify(at)}, not a port`);
  return undefined;
}

/** The value at a dot path of a JSON5 config file; undefined with a note when the file or the key cannot be read. */
async function configValue(file: string, key: string, notes: string[]): Promise<unknown> {
  let data: unknown;
  try {
    data = JSON5.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    notes.push(`config ${file} not read: ${(error as Error).message}`);
    return undefined;
  }
  let at: unknown = data;
  for (const part of key.split('.'))
    at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[part] : undefined;
  if (at === undefined && data !== null && typeof data === 'object' && '$include' in data)
    notes.push(`config ${file} has no ${key} of its own and uses $include, which is not followed`);
  return at;
}

/**
 * A setting of the service's own config file, found as the service finds it in its environment (`locate`, the
 * preset's): the value and where it was read, or undefined (no file, no such key) with what could not be read in `notes`.
 */
export async function serviceSetting(
  locate: ConfigLocator,
  key: string,
  env: Record<string, string | undefined>,
  notes: string[] = [],
): Promise<{ value: unknown; from: string } | undefined> {
  const file = await locate(env, '/');
  if (!file) return undefined;
  const value = await configValue(file, key, notes);
  return value === undefined ? undefined : { value, from: `${file} ${key}` };
}

/** The port in the service's own order of precedence; null when nothing names one (the service's default applies). */
export async function findServicePort(
  unit: ExistingUnit,
  sources: PortSources,
  host: NodeJS.ProcessEnv,
): Promise<PortFinding> {
  const words = unit.execStart ?? [];
  const { flag } = sources;
  for (let i = 0; i < words.length; i++) {
    const value =
      words[i] === flag
        ? words[i + 1]
        : words[i]!.startsWith(`${flag}=`)
          ? words[i]!.slice(flag.length + 1)
          : undefined;
    const port = value !== undefined && /^\d+$/.test(value) ? parsePortValue(value) : null;
    if (port !== null)
      return { port: { port, from: `ExecStart ${words[i] === flag ? `${flag} ${value}` : words[i]}` }, notes: [] };
  }
  const { env, sources: from, notes } = await unitEnvironment(unit, host);
  for (const name of sources.env) {
    const port = parsePortValue(env[name]);
    if (port !== null) return { port: { port, from: from[name]! }, notes };
  }
  if (!sources.config) return { port: null, notes };
  const file = await sources.config.file(env, unit.service.WorkingDirectory?.replace(/^-/, '') || '/');
  if (file === null) return { port: null, notes };
  const port = await configPort(file, sources.config.key, notes);
  return { port: port === undefined ? null : { port, from: `config ${file} ${sources.config.key}` }, notes };
}
