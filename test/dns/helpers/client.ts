// Raw DNS clients for tests: exact bytes in, exact bytes out, over UDP or one TCP connection.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** One UDP query; `from` binds the client to that local address (another "pod" on loopback). */
export function udpQuery(port: number, msg: Buffer, timeoutMs = 3000, host = '127.0.0.1', from?: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    if (from === undefined) s.send(msg, port, host);
    else s.bind(0, from, () => s.send(msg, port, host));
  });
}

/** Send all messages on one TCP connection in a single write; collect `expect` replies. */
export function tcpQueries(port: number, msgs: Buffer[], expect = msgs.length, timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const sock = connect(port, '127.0.0.1');
    const finish = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(out);
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('error', finish);
    sock.on('close', finish);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length >= expect) finish();
    });
    sock.write(Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]))));
  });
}

const run = promisify(execFile);

export interface DigResult {
  status: string;
  answers: { name: string; ttl: number; type: string; data: string }[];
  flags: string[];
  stdout: string;
}

/** Run dig and parse the status line, flags and answer section of each reply. */
export async function dig(port: number, args: string[], host = '127.0.0.1'): Promise<DigResult[]> {
  const { stdout } = await run('dig', [`@${host}`, '-p', String(port), '+tries=1', '+time=3', ...args], { timeout: 20_000 });
  const results: DigResult[] = [];
  for (const block of stdout.split(/(?=;; ->>HEADER<<-)/).slice(1)) {
    const status = /status: (\w+)/.exec(block)?.[1] ?? '';
    const flags = (/;; flags: ([^;]*);/.exec(block)?.[1] ?? '').trim().split(/\s+/);
    const answers: DigResult['answers'] = [];
    const sec = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|$)/.exec(block)?.[1] ?? '';
    for (const line of sec.split('\n')) {
      const m = /^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$/.exec(line.trim());
      if (m !== null) answers.push({ name: m[1]!, ttl: Number(m[2]), type: m[3]!, data: m[4]!.trim() });
    }
    results.push({ status, answers, flags, stdout: block });
  }
  return results;
}
