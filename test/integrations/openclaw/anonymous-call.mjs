// A client that does not authenticate: a WebSocket to the gateway, the `connect` frame without `auth` (or device
// identity), then the request. Prints every frame the gateway sent and how the socket closed, as JSON.
//
//   <node24> anonymous-call.mjs <port> <method> <params JSON>
const [port, method, params] = process.argv.slice(2);
const frames = [];
const socket = new WebSocket(`ws://127.0.0.1:${port}`);
const closed = new Promise((resolve) => {
  socket.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason }));
  setTimeout(() => resolve(null), 10_000).unref();
});
socket.addEventListener('message', (event) => {
  const frame = JSON.parse(String(event.data));
  frames.push(frame);
  if (frame.event === 'connect.challenge') {
    const client = { id: 'cli', version: '1.0.0', platform: process.platform, mode: 'cli' };
    const connect = { minProtocol: 1, maxProtocol: 99, client, role: 'operator', scopes: ['operator.admin'] };
    socket.send(JSON.stringify({ type: 'req', id: 'connect', method: 'connect', params: connect }));
    socket.send(JSON.stringify({ type: 'req', id: 'call', method, params: JSON.parse(params) }));
  }
});
const close = await closed;
socket.close();
process.stdout.write(`${JSON.stringify({ frames, close })}\n`);
process.exit(0);
