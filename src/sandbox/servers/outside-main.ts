// Child process: the "outside world" servers, on every address of their namespace. argv[2] is a
// JSON file { addresses: string[], tcp: number[], udp: number[] }; sockets are bound per address
// so UDP replies leave from the address the client asked. TCP speaks just enough HTTP for curl
// (a request line gets a 200 naming the server address and port, then the connection closes) and
// echoes anything else (nc); UDP echoes each datagram.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, isIPv6 } from 'node:net';

const file = process.argv[2];
if (!file) throw new Error('usage: outside-main <servers.json>');
const cfg = JSON.parse(readFileSync(file, 'utf8')) as { addresses: string[]; tcp: number[]; udp: number[] };
const strip = (a: string | undefined) => (a ?? '').replace(/^::ffff:/, '');

let pending = cfg.addresses.length * (cfg.tcp.length + cfg.udp.length);
const up = () => {
  if (--pending === 0) process.stdout.write('ready\n');
};
const fail = (what: string) => (e: Error) => {
  process.stderr.write(`outside ${what}: ${e.message}\n`);
  process.exit(1);
};
if (pending === 0) process.stdout.write('ready\n');

for (const address of cfg.addresses) {
  for (const port of cfg.tcp) {
    const server = createServer((s) => {
      let first = true;
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        if (first && /^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/.test(d.toString('latin1'))) {
          const body = `outside ${strip(s.localAddress)} port ${s.localPort} from ${strip(s.remoteAddress)}\n`;
          s.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
          return;
        }
        first = false;
        s.write(d);
      });
    });
    server.once('error', fail(`tcp ${address}:${port}`));
    server.listen({ port, host: address }, up);
  }
  for (const port of cfg.udp) {
    const sock = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
    sock.once('error', fail(`udp ${address}:${port}`));
    sock.bind(port, address, up);
  }
}
