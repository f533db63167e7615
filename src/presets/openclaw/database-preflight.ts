/**
 * OpenClaw's schema check for a supervisor ("Preflight a target release", docs/reference/database-schemas): before a
 * release is activated or rolled back to, that release's own `database preflight <copy> --json` judges one
 * consolidated copy of the shared state database, and `database preflight-agent <copy> --agent-id <id> --json` one of
 * each agent's database (sidecars beside a copy make it `indeterminate`). This reads its answers; the copies and the
 * runs are the core's (rehearsal/database-preflight.ts). Measured on 2026.9.5 → 2026.9.6: 9.6 calls a 9.5 state
 * database `migration-required` (schema 17 → 18); 9.5 calls a database 9.6 has migrated `incompatible`. Agent
 * databases (21 → 23): 9.6 calls a 9.5 one `incompatible` with foundVersion 21 ("run openclaw doctor --fix": Doctor
 * migrates it in finalize), 9.5 calls one 9.6 migrated `incompatible` with foundVersion 23 ("cannot open your
 * existing data").
 */
import { jsonDocumentIn } from '../../platform/subprocess.js';
import {
  type DatabaseAnswer,
  type DatabasePreflightRequest,
  type DatabaseStatus,
  type DatabaseVerdict,
  databasePreflight,
  failureOf,
} from '../../rehearsal/database-preflight.js';

const SCHEMA = 'openclaw.state-schema-preflight.v1';
const AGENT_SCHEMA = 'openclaw.agent-schema-preflight.v1';
const STATUSES: readonly string[] = [
  'exact',
  'startup-repairable',
  'migration-required',
  'incompatible',
  'indeterminate',
];

/** The core's run of the checks, read as OpenClaw answers. */
export function openclawDatabasePreflight(
  request: Omit<DatabasePreflightRequest, 'answer'>,
): Promise<DatabaseVerdict[]> {
  return databasePreflight({ ...request, answer: openclawDatabaseAnswer });
}

/** An answer in the contract's schema, else why there is no verdict. */
export const openclawDatabaseAnswer: DatabaseAnswer = (answer, { agentId }) => {
  const json = jsonDocumentIn(answer.output);
  const expected = agentId === undefined ? SCHEMA : AGENT_SCHEMA;
  const status =
    json?.schema === expected && typeof json.status === 'string' && STATUSES.includes(json.status)
      ? (json.status as DatabaseStatus)
      : undefined;
  if (!status) return noVerdict(answer);
  const targetVersion = typeof json!.targetVersion === 'number' ? json!.targetVersion : undefined;
  const foundVersion = typeof json!.foundVersion === 'number' ? json!.foundVersion : undefined;
  const reason = typeof json!.reason === 'string' ? json!.reason : undefined;
  return {
    status: agentStatus(status, { agentId, targetVersion, foundVersion }),
    ...(targetVersion !== undefined && { targetVersion }),
    ...(foundVersion !== undefined && { foundVersion }),
    ...(Array.isArray(json!.issues) && json!.issues.length > 0 && { issues: json!.issues }),
    ...(reason !== undefined && { detail: oneLine(reason) }),
  };
};

/**
 * `preflight-agent` knows `exact`, `incompatible` and `indeterminate` only: an agent database older than the target
 * is `incompatible` to it until Doctor migrates it (finalize does, before the target starts), so for the activation it
 * is what the shared check calls `migration-required`. Newer, or the same version with another shape, stays refused.
 */
function agentStatus(
  status: DatabaseStatus,
  versions: { agentId: string | undefined; targetVersion: number | undefined; foundVersion: number | undefined },
): DatabaseStatus {
  const { agentId, targetVersion, foundVersion } = versions;
  const older = targetVersion !== undefined && foundVersion !== undefined && foundVersion < targetVersion;
  return agentId !== undefined && status === 'incompatible' && older ? 'migration-required' : status;
}

/**
 * No answer in the contract's shape. A release from before the contract (its CLI does not know the command: a
 * rollback to one must stay possible) has no verdict to give: `unavailable`. Anything else (a crash, output that is
 * not the contract's) is a check that ran and could not judge: `indeterminate`, which refuses.
 */
function noVerdict(answer: Parameters<DatabaseAnswer>[0]): ReturnType<DatabaseAnswer> {
  const said = `(exit ${answer.exitCode ?? 'none'}): ${failureOf(answer.output)}`;
  if (answer.exitCode !== 0 && /unknown command/i.test(answer.output))
    return { status: 'unavailable', detail: `this release has no such check ${said}` };
  return { status: 'indeterminate', detail: `database preflight gave no verdict ${said}` };
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
