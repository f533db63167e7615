/**
 * A "Releases" tab in OpenClaw's Control UI: what runs, the last transaction, and how to update. OpenClaw's own
 * Settings → Updates "Update now" calls the core method `update.run`, which a plugin can neither register, override nor
 * hook, and which OpenClaw refuses under an external supervisor: so the owner is shown, where they look, the commands
 * that do reach release-switcher (`/update` in chat, `openclaw releases update` on the host). The tab is a sandboxed
 * frame of a gateway-authenticated plugin route (read-only: the frame's grant is GET/HEAD with `operator.read`), so it
 * shows and tells; it cannot start an update itself.
 */
import type { UpdateStatus } from 'release-switcher';
import { describeTransaction, describeWarnings } from './describe.js';
import type { HttpRequest, HttpResponse, Logger, PluginApi } from './host.js';

/** The route the tab frames, under the gateway's HTTP server. */
export const TAB_PATH = '/release-switcher';
export const TAB_ID = 'releases';

/** The commands that update through release-switcher, as the page says them. */
export const UPDATE_COMMANDS = ['/update', 'openclaw releases update'] as const;

const html = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The page: plain HTML, no script (the frame is sandboxed), the status as `describeStatus` words it for chat. */
export function releasesPage(status: UpdateStatus | { error: string }): string {
  const body =
    'error' in status
      ? [`<p>release-switcher could not read its root: ${html(status.error)}</p>`]
      : [
          `<p>Running <b>${html(status.running?.version ?? 'unknown')}</b> (current ${html(status.current ?? 'none')}, previous ${html(status.previous ?? 'none')}).</p>`,
          status.transaction
            ? `<p>Last: ${html(describeTransaction(status.transaction))}${status.inFlight ? ' (in progress)' : ''}.</p>`
            : '<p>No update or rollback yet.</p>',
          ...(status.transaction
            ? describeWarnings(status.transaction)
                .split('\n')
                .filter(Boolean)
                .map((line) => `<p>${html(line)}</p>`)
            : []),
        ];
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"><title>Releases</title></head><body>',
    '<h1>Gateway releases (release-switcher)</h1>',
    ...body,
    '<h2>Update</h2>',
    `<p>This gateway is updated by release-switcher. Settings → Updates → "Update now" is refused by OpenClaw under an external supervisor; instead, as the owner: <code>${UPDATE_COMMANDS[0]}</code> in chat, or <code>${UPDATE_COMMANDS[1]}</code> (<code>openclaw releases rollback</code> to go back) in a shell on the gateway's host.</p>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** The route and the tab; a host without either (an older OpenClaw) is told in the log, and the rest still loads. */
export function registerReleasesTab(api: PluginApi, status: () => Promise<UpdateStatus>, logger: Logger): void {
  const registerDescriptor =
    api.session?.controls?.registerControlUiDescriptor?.bind(api.session.controls) ??
    api.registerControlUiDescriptor?.bind(api);
  if (!api.registerHttpRoute || !registerDescriptor) {
    logger.warn(
      'release-switcher: this OpenClaw offers no plugin tab in the Control UI; /releases and /update still do',
    );
    return;
  }
  api.registerHttpRoute({
    path: TAB_PATH,
    auth: 'gateway',
    match: 'exact',
    handler: async (req: HttpRequest, res: HttpResponse) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        res.setHeader('Allow', 'GET, HEAD');
        res.end();
        return true;
      }
      const page = releasesPage(await status().catch((error: unknown) => ({ error: String(error) })));
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.end(req.method === 'HEAD' ? undefined : page);
      return true;
    },
  });
  registerDescriptor({
    surface: 'tab',
    id: TAB_ID,
    label: 'Releases',
    description: 'What runs, the last update or rollback, and how to update (release-switcher)',
    group: 'control',
    path: TAB_PATH,
    requiredScopes: ['operator.read'],
  });
}
