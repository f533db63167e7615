// Calls a gateway method as an operator client holding exactly the scopes given, through OpenClaw's own client
// (`openclaw/plugin-sdk/gateway-runtime`'s callGatewayFromCli, the one `openclaw gateway call` uses), with the
// token from the user's config. `openclaw gateway call` asks for the least privilege a known method needs
// (operator.write for chat.send); an admin operator (e.g. the Control UI's) sends chat with operator.admin.
//
//   <node24> operator-call.mjs <openclaw package dir> <method> <params JSON> <scope,scope…>
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, method, params, scopes] = process.argv.slice(2);
const runtime = await import(pathToFileURL(path.join(dir, 'dist', 'plugin-sdk', 'gateway-runtime.js')).href);
const result = await runtime.callGatewayFromCli(method, { json: true, timeout: '60000' }, JSON.parse(params), {
  scopes: scopes.split(','),
  progress: false,
});
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
