/**
 * The fan-out ceiling for `npm run bench`: a plain `ws` server that sends the body of each
 * `POST /broadcast` to every connected socket. Started by bench/fanout.ts in its own process.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const server = createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/broadcast') {
    response.writeHead(404).end();
    return;
  }
  let body = '';
  request.on('data', (chunk: Buffer) => {
    body += chunk.toString();
  });
  request.on('end', () => {
    for (const socket of sockets.clients) socket.send(body);
    response.writeHead(204).end();
  });
});
const sockets = new WebSocketServer({ server });

server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  for (const socket of sockets.clients) socket.terminate();
  server.close(() => process.exit(0));
});
