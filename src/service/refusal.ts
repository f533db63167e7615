/**
 * A change to a system unit that sudo or polkit refused: systemctl never ran (sudo), or the manager refused the job
 * before doing anything (polkit), so the service is as it was. That is a permission the operator has not given, not a
 * service that failed: PERMISSION_DENIED (exit 1), with the sudoers line or polkit rule that would allow it.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { onSecurePath } from '../platform/privileged-env.js';

export interface Refusal {
  /** Who refused: sudo (no rule lets this account run the command without a password) or polkit (the manager). */
  by: 'sudo' | 'polkit';
  /** The refusal's own words, as printed. */
  said: string;
}

/** sudo's words when no rule lets the command run without a password or a terminal (`sudo -n`), in its 1.8–1.9 forms. */
const SUDO = [
  /sudo: (a password is required|a terminal is required[^\n]*)/i,
  /sudo: sorry, you must have a tty[^\n]*/i,
  /[^\n]* is not in the sudoers file[^\n]*/i,
  /Sorry, user \S+ is not allowed to execute[^\n]*/i,
  /[^\n]* is not allowed to run sudo[^\n]*/i,
  /sudo: The "no new privileges" flag is set[^\n]*/i,
];
/** systemctl's words when polkit (or D-Bus policy) refuses the job: nothing was queued. */
const POLKIT = [
  /Interactive authentication required\.?/i,
  /Failed to [\w-]+ [^\n]*: Access denied/i,
  /^Access denied$/im,
];

/** The refusal in a failed command's output, or undefined when it failed for another reason. */
export function refusalIn(output: string): Refusal | undefined {
  for (const pattern of SUDO) {
    const said = pattern.exec(output)?.[0];
    if (said) return { by: 'sudo', said: said.trim() };
  }
  for (const pattern of POLKIT) {
    const said = pattern.exec(output)?.[0];
    if (said) return { by: 'polkit', said: said.trim() };
  }
  return undefined;
}

export interface AllowRequest {
  /** The account that was refused. */
  account: string;
  /** The systemctl verbs an activation needs (restart, and start and stop where it uses them). */
  verbs: readonly string[];
  /** The unit, exactly as the command named it (sudoers rules match word for word). */
  unit: string;
  /** systemctl as sudo finds it on its secure_path. @default found on that path, else /usr/bin/systemctl */
  systemctl?: string;
}

/** The sudoers line that lets `account` run exactly what release-switcher runs: `sudo -n systemctl VERB UNIT`. */
export function sudoersLine(request: AllowRequest): string {
  const systemctl = request.systemctl ?? onSecurePath('systemctl') ?? '/usr/bin/systemctl';
  const commands = request.verbs.map((verb) => `${systemctl} ${verb} ${request.unit}`);
  return `${request.account} ALL=(root) NOPASSWD: ${commands.join(', ')}`;
}

/** The polkit rule (a file in /etc/polkit-1/rules.d/) that lets `account` run those verbs on that unit. */
export function polkitRule(request: AllowRequest): string {
  const unit = /\.\w+$/.test(request.unit) ? request.unit : `${request.unit}.service`;
  const verbs = request.verbs.map((verb) => JSON.stringify(verb)).join(', ');
  return `polkit.addRule(function (action, subject) { if (action.id == "org.freedesktop.systemd1.manage-units" && action.lookup("unit") == ${JSON.stringify(unit)} && [${verbs}].indexOf(action.lookup("verb")) >= 0 && subject.user == ${JSON.stringify(request.account)}) return polkit.Result.YES; });`;
}

/** The verbs an activation runs on a system unit: restart, start (after a failed restart), stop (a preset's finalize). */
export const ACTIVATION_VERBS = ['restart', 'start', 'stop'] as const;

/**
 * PERMISSION_DENIED for a refused `systemctl VERB UNIT`: what was refused, that the service was not touched by it, and
 * what to add. `details.refused` marks it for the transaction (a refusal changed nothing; a failure may have).
 */
export function refusedError(refusal: Refusal, request: AllowRequest & { command: string }): ReleaseSwitcherError {
  const allow =
    refusal.by === 'sudo'
      ? `add to /etc/sudoers.d/${request.account} (visudo -f /etc/sudoers.d/${request.account}): ${sudoersLine(request)}`
      : `add a polkit rule (/etc/polkit-1/rules.d/50-${request.account}-${request.unit.replace(/\.service$/, '')}.rules): ${polkitRule(request)}`;
  return new ReleaseSwitcherError(
    'PERMISSION_DENIED',
    `${refusal.by} refused ${request.command} for ${request.account} (${refusal.said}); the service was not touched.`,
    {
      hint: `Allow ${request.account} to change the unit, as OpenClaw's Ansible role does: ${allow}. Or run release-switcher as root (sudo release-switcher …).`,
      details: { refused: refusal.by, account: request.account, unit: request.unit, said: refusal.said },
    },
  );
}

/** Whether `error` is a supervisor's refusal (refusedError): nothing was done to the service. */
export function isRefusal(error: unknown): error is ReleaseSwitcherError {
  return (
    error instanceof Error &&
    (error as ReleaseSwitcherError).code === 'PERMISSION_DENIED' &&
    typeof (error as ReleaseSwitcherError).details?.refused === 'string'
  );
}
