/** npm's settings as npm would read them (user and project .npmrc, npm_config_* variables), flattened. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function parseNpmrc(text: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (/^".*"$/.test(value)) value = value.slice(1, -1);
    out[key] = value.replace(/\$\{([^}]+)\}/g, (_m, name: string) => env[name] ?? '');
  }
  return out;
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function readNpmConfig(env: NodeJS.ProcessEnv, cwd: string): Record<string, string> {
  const userconfig =
    env.npm_config_userconfig ?? env.NPM_CONFIG_USERCONFIG ?? path.join(env.HOME ?? os.homedir(), '.npmrc');
  const config: Record<string, string> = {
    ...parseNpmrc(readIfExists(userconfig), env),
    ...parseNpmrc(readIfExists(path.join(cwd, '.npmrc')), env),
  };
  // As npm reads them (@npmcli/config loadEnv): empty ones are unset; a registry's own setting (`//host/:_authToken`)
  // keeps its name as it is, where any other has its case folded and `_` made `-` (but a leading one: `_auth`).
  for (const [name, value] of Object.entries(env)) {
    const match = /^npm_config_(.+)$/i.exec(name);
    if (!match || value === undefined || value === '') continue;
    const key = match[1]!;
    config[key.startsWith('//') ? key : key.replace(/(?!^)_/g, '-').toLowerCase()] = value;
  }
  return config;
}
