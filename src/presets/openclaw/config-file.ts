/** Where OpenClaw finds its own config file, as its dist does: the preset's `ServiceSetting`s read it (types.ts). */
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Where openclaw 2026.9.x reads its config (resolveConfigPathCandidate in its dist/paths-*.mjs); null when none exists.
 * `exists` asks whether a candidate is a file: root acting for the service's account passes one that asks as the
 * account, so no link the account planted in its home is followed with root's rights. @default stat as this process
 */
export async function openclawConfigFile(
  env: Record<string, string | undefined>,
  cwd = '/',
  exists: (file: string) => Promise<boolean> = isFile,
): Promise<string | null> {
  const trimmed = (name: string) => env[name]?.trim() || undefined;
  const osHome = trimmed('HOME');
  const explicitHome = trimmed('OPENCLAW_HOME');
  const home =
    explicitHome && osHome && /^~(?=$|\/)/.test(explicitHome)
      ? explicitHome.replace(/^~/, osHome)
      : (explicitHome ?? osHome);
  const user = (p: string) => {
    if (/^~(?=$|\/)/.test(p)) return home ? path.resolve(cwd, p.replace(/^~/, home)) : null;
    return path.resolve(cwd, p);
  };
  const explicit = trimmed('OPENCLAW_CONFIG_PATH');
  if (explicit) {
    const file = user(explicit);
    return file && (await exists(file)) ? file : null; // the only place it looks
  }
  const names = ['openclaw.json', 'clawdbot.json'];
  const dirs: string[] = [];
  const stateDir = trimmed('OPENCLAW_STATE_DIR');
  if (stateDir) {
    const dir = user(stateDir);
    if (dir) dirs.push(dir);
  }
  if (home) dirs.push(path.resolve(cwd, home, '.openclaw'), path.resolve(cwd, home, '.clawdbot'));
  for (const dir of dirs) for (const name of names) if (await exists(path.join(dir, name))) return path.join(dir, name);
  return null;
}

const isFile = (file: string) =>
  fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
