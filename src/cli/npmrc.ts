/** npm's settings as npm would read them (user and project .npmrc, npm_config_* variables), flattened. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileTrustError } from '../store/root-trust.js';

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

/**
 * Root reads no setting another account could have written: not the `.npmrc` of the folder it was started in (an
 * account's, often: npm -g itself never reads a project's .npmrc for a global install, which is what root does here),
 * nor a user config file that is not root's alone (a HOME kept by `sudo -E` or `su`: the file or a folder above it
 * writable or owned by another account). Its registry, token and scripts settings would decide what runs as root.
 */
export function readNpmConfig(
  env: NodeJS.ProcessEnv,
  cwd: string,
  uid = process.getuid?.() ?? -1,
): Record<string, string> {
  const userconfig =
    env.npm_config_userconfig ?? env.NPM_CONFIG_USERCONFIG ?? path.join(env.HOME ?? os.homedir(), '.npmrc');
  const asRoot = uid === 0;
  const project = path.join(cwd, '.npmrc');
  const config: Record<string, string> = {
    ...(asRoot && fileTrustError(path.resolve(cwd, userconfig), 0) ? {} : parseNpmrc(readIfExists(userconfig), env)),
    ...(asRoot ? {} : parseNpmrc(readIfExists(project), env)),
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
