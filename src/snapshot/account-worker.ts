/**
 * The worker that does the work on a service account's state for root (state-side.ts): started by root with an empty
 * environment, it reads its request on stdin, becomes the account (groups, gid, uid; checked) before it touches
 * anything, runs the one operation asked on the folders handed to it as fd 3 and on, and answers one JSON document on
 * stdout: `{ok: true, result}` or `{ok: false, error: {code, message, hint}}`.
 */
import { errnoOf, isReleaseSwitcherError } from '../model/errors.js';
import { handedDir } from '../platform/as-account.js';
import { armCrashPoint } from '../platform/crashpoint.js';
import { STATE_OPS, type StateOp } from './state-side.js';

interface Request {
  account: { name: string; uid: number; gid: number };
  op: StateOp;
  args: { dirs: number; args: unknown; crashAt?: string };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Become `account` for good: supplementary groups, then gid, then uid (after which none can be changed back). */
function become(account: Request['account']): void {
  if (!Number.isInteger(account.uid) || account.uid <= 0) throw new Error(`refusing to run as uid ${account.uid}`);
  // Typed only where @types/node knows the platform; present on every POSIX Node.
  (process as unknown as { initgroups: (user: string, extra: number) => void }).initgroups(account.name, account.gid);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
  const ids = [process.getuid?.(), process.geteuid?.(), process.getgid?.(), process.getegid?.()];
  if (ids.join() !== [account.uid, account.uid, account.gid, account.gid].join())
    throw new Error(`could not become ${account.name}: uid/euid/gid/egid ${ids.join('/')}`);
}

function errorOf(error: unknown, account: string): Record<string, string> {
  if (isReleaseSwitcherError(error)) return { code: error.code, message: error.message, hint: error.hint ?? '' };
  const message = `As ${account}: ${(error as Error).message}`;
  if (errnoOf(error) === 'EACCES' || errnoOf(error) === 'EPERM' || errnoOf(error) === 'ELOOP')
    return {
      code: 'PERMISSION_DENIED',
      message: `${message}. The service's account may not do this with its own rights: a state path (or a link in it) leads where the account cannot write.`,
      hint: `Check the state paths as ${account} (ls -la); a link there to a folder that is not the account's is refused, not followed.`,
    };
  return {
    code: 'STATE_COPY_FAILED',
    message,
    hint: `Check the state paths as ${account} and the free space of the root; nothing was switched.`,
  };
}

async function main(): Promise<void> {
  const request = JSON.parse(await readStdin()) as Request;
  try {
    become(request.account);
    armCrashPoint(request.args.crashAt);
    const dirs = Array.from({ length: request.args.dirs }, (_, i) => handedDir(3 + i));
    const op = STATE_OPS[request.op] as ((dirs: string[], args: unknown) => Promise<unknown>) | undefined;
    if (!op) throw new Error(`unknown operation ${request.op}`);
    const result = await op(dirs, request.args.args);
    process.stdout.write(`\n${JSON.stringify({ ok: true, result: result ?? null })}\n`);
  } catch (error) {
    process.stdout.write(`\n${JSON.stringify({ ok: false, error: errorOf(error, request.account.name) })}\n`);
  }
}

await main();
