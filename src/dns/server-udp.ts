// The UDP listener: one datagram in, at most one datagram out, to the address it came from. A
// reply larger than the client said it can take goes out truncated (TC set) so it retries over TCP.
import { createSocket, type Socket } from 'node:dgram';
import { lookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { clientAddress } from './client-address.js';
import type { QueryHandler } from './query-handler.js';
import { MIN_UDP_SIZE, clientUdpSize, truncateReply } from './wire.js';

export class UdpServer {
  private socket: Socket | undefined;
  /** Datagrams dropped because they came from port 0 (no reply is possible). */
  droppedPortZero = 0;
  /** Replies that dgram refused synchronously. */
  sendErrors = 0;
  /** Replies cut to header + question (+ OPT) with TC because the client's UDP size was smaller. */
  truncated = 0;
  /** Called for each truncated reply (metrics). */
  onTruncated: (() => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly handler: QueryHandler,
  ) {}

  listen(): Promise<{ address: string; port: number }> {
    const socket = createSocket({ type: isIP(this.host) === 6 ? 'udp6' : 'udp4', ipv6Only: isIP(this.host) === 6, lookup: literalLookup });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      // Nothing can be sent back to port 0, and dgram throws synchronously when asked to: a raw
      // datagram from port 0 must cost nothing rather than take the process down.
      if (rinfo.port === 0) {
        this.droppedPortZero++;
        return;
      }
      this.handler.handle(msg, clientAddress(rinfo.address), 'udp', (reply) => {
        if (reply === undefined || this.socket !== socket) return;
        // Upstreams usually honour the client's size already (the query's OPT is forwarded), but
        // not all do, and a coalesced answer was sized for another client's query.
        if (reply.length > MIN_UDP_SIZE) {
          const limit = clientUdpSize(msg);
          if (reply.length > limit) {
            reply = truncateReply(reply, limit);
            this.truncated++;
            this.onTruncated?.();
          }
        }
        try {
          socket.send(reply, rinfo.port, rinfo.address);
        } catch {
          this.sendErrors++;
        }
      });
    });
    // Send errors (a client port gone) must not take the listener down.
    socket.on('error', () => {});
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.host, () => {
        socket.off('error', reject);
        try {
          socket.setRecvBufferSize(1 << 22);
          socket.setSendBufferSize(1 << 22);
        } catch {
          // capped by net.core.[rw]mem_max; defaults still work
        }
        const a = socket.address();
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  close(): void {
    const s = this.socket;
    this.socket = undefined;
    s?.close();
  }
}

/**
 * Every reply goes to the literal address the query came from; dgram still "resolves" it, and
 * dns.lookup answers a literal only on the next tick (one closure and one tick per reply). This
 * answers literals synchronously and leaves anything else to dns.lookup.
 */
function literalLookup(
  address: string,
  // dgram passes the socket's family as a number, whatever @types/node says.
  options: LookupOneOptions | number,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const f = isIP(address);
  if (f !== 0) return cb(null, address, f);
  lookup(address, typeof options === 'number' ? { family: options } : options, cb);
}
