// The emulator's UDP and TCP listeners (same address and port, IPv4 or IPv6). TCP messages carry
// the two-byte length prefix of RFC 1035 section 4.2.2 (RFC 7766); several may share a connection.
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6 } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { EngineAnswer } from './engine.js';
import type { FailOpen, FirewallConfig } from './firewall-model.js';
import { queryLogEntry } from './query-log.js';
import { TcpFrameReader } from './tcp-frames.js';
import type { QueryLogEntry, QueryLogSink } from './query-log.js';
import { handleMessage } from './wire.js';
import type { ZoneSet } from './zone-model.js';

export interface EmulatorOptions {
  readonly zones: ZoneSet;
  readonly firewall: FirewallConfig;
  /** Listen address (default 127.0.0.1); an IPv6 address listens on IPv6. */
  readonly host?: string;
  /** Port for both UDP and TCP (default 0: a free port, the same for both). */
  readonly port?: number;
  readonly queryLog?: QueryLogSink;
  /** Called after every answered query, with the log line and the engine's result. */
  readonly onQuery?: (entry: QueryLogEntry, result: EngineAnswer | undefined) => void;
  readonly now?: () => Date;
  /** A silent TCP connection is closed after this long (default 10 s). */
  readonly tcpIdleMs?: number;
  /** A TCP message must arrive whole within this long of its first byte (default 5 s). */
  readonly tcpFrameTimeoutMs?: number;
  /** Receives one line per notable event (dropped datagram, failed send, closed connection). */
  readonly onEvent?: (line: string) => void;
}

/** What the listeners refused or failed to do; counts since start. */
export interface EmulatorCounters {
  /** UDP datagrams from source port 0: no reply can be addressed to them. */
  readonly udpDroppedPortZero: number;
  /** Replies the socket refused to send (UDP or TCP). */
  readonly sendErrors: number;
  /** TCP connections closed because a message did not complete in time. */
  readonly tcpFrameTimeouts: number;
  /** TCP connections closed for silence. */
  readonly tcpIdleCloses: number;
}

export interface RunningEmulator {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
  /** The configuration in force (changes with the switches below). */
  readonly firewall: FirewallConfig;
  /** Simulates DNS Firewall becoming unavailable (false) or back (true). */
  setFirewallAvailable(available: boolean): void;
  setFailOpen(value: FailOpen): void;
  readonly counters: EmulatorCounters;
  close(): Promise<void>;
}

/** Idle TCP connections are closed after this long (RFC 7766 recommends seconds, not minutes). */
const TCP_IDLE_MS = 10_000;
/** Idle time alone does not stop a client that trickles one byte at a time inside a frame. */
const TCP_FRAME_TIMEOUT_MS = 5_000;

function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function listenTcp(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? (() => new Date());
  let firewall = options.firewall;
  const sockets = new Set<Socket>();
  const counters = { udpDroppedPortZero: 0, sendErrors: 0, tcpFrameTimeouts: 0, tcpIdleCloses: 0 };
  const idleMs = options.tcpIdleMs ?? TCP_IDLE_MS;
  const frameTimeoutMs = options.tcpFrameTimeoutMs ?? TCP_FRAME_TIMEOUT_MS;
  const onEvent = options.onEvent ?? (() => undefined);
  // A flood must not turn into a flood of log lines: the first event of a kind, then every 1000th.
  const note = (count: number, line: string): void => {
    if (count === 1 || count % 1000 === 0) onEvent(`${line} (${count} so far)`);
  };
  const sendFailed = (transport: 'UDP' | 'TCP', to: string, err: unknown): void => {
    counters.sendErrors++;
    note(counters.sendErrors, `${transport} reply to ${to} not sent: ${(err as Error).message}`);
  };

  const answer = (buf: Buffer, transport: 'UDP' | 'TCP', srcaddr: string, srcport: number): Buffer | undefined => {
    const handled = handleMessage(buf, options.zones, firewall, transport);
    if (!handled) return undefined;
    if (handled.question && (options.queryLog || options.onQuery)) {
      const entry = queryLogEntry({
        settings: firewall.settings,
        time: now(),
        queryName: handled.question.name,
        qtype: handled.question.qtype,
        qclass: handled.question.qclass,
        rcode: handled.rcode,
        answers: handled.result?.answers ?? [],
        srcaddr,
        srcport,
        transport,
        decision: handled.result?.decision,
      });
      options.queryLog?.write(entry);
      options.onQuery?.(entry, handled.result);
    }
    return handled.response;
  };

  const tcp = createServer((socket) => {
    sockets.add(socket);
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const reader = new TcpFrameReader();
    let frameTimer: NodeJS.Timeout | undefined;
    const stopFrameTimer = (): void => {
      if (frameTimer !== undefined) clearTimeout(frameTimer);
      frameTimer = undefined;
    };
    socket.setTimeout(idleMs, () => {
      counters.tcpIdleCloses++;
      socket.destroy();
    });
    socket.on('close', () => {
      stopFrameTimer();
      sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      const messages = reader.push(chunk);
      // The deadline runs from a message's first byte; a completed message ends it.
      if (messages.length > 0) stopFrameTimer();
      if (reader.inFrame && frameTimer === undefined) {
        frameTimer = setTimeout(() => {
          counters.tcpFrameTimeouts++;
          note(counters.tcpFrameTimeouts, `TCP connection from ${peer} closed: message not complete within ${frameTimeoutMs} ms`);
          socket.destroy();
        }, frameTimeoutMs);
      }
      for (const message of messages) {
        if (socket.destroyed) return;
        const response = answer(message, 'TCP', socket.remoteAddress ?? '', socket.remotePort ?? 0);
        if (!response) continue;
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(response.length, 0);
        try {
          socket.write(Buffer.concat([prefix, response]));
        } catch (err) {
          sendFailed('TCP', peer, err);
        }
      }
    });
  });

  // With port 0 the kernel picks the UDP port; TCP then asks for the same one, which another
  // process may hold, so retry a few times with fresh ports.
  let udp: UdpSocket | undefined;
  for (let attempt = 0; ; attempt++) {
    udp = await bindUdp(host, options.port ?? 0);
    try {
      await listenTcp(tcp, host, udp.address().port);
      break;
    } catch (err) {
      udp.close();
      if ((options.port ?? 0) !== 0 || attempt >= 5) throw err;
    }
  }
  const udpSocket = udp;
  udpSocket.on('message', (msg, rinfo) => {
    // Port 0 cannot be replied to (send throws synchronously); such a datagram is forged or broken.
    if (rinfo.port === 0) {
      counters.udpDroppedPortZero++;
      note(counters.udpDroppedPortZero, `UDP datagram from ${rinfo.address} source port 0 dropped`);
      return;
    }
    const response = answer(msg, 'UDP', rinfo.address, rinfo.port);
    if (!response) return;
    const to = `${rinfo.address}:${rinfo.port}`;
    try {
      udpSocket.send(response, rinfo.port, rinfo.address, (err) => {
        if (err) sendFailed('UDP', to, err);
      });
    } catch (err) {
      sendFailed('UDP', to, err);
    }
  });
  udpSocket.on('error', (err) => {
    // Sends report through their callback; anything else here must not take the emulator down.
    onEvent(`UDP socket error: ${err.message}`);
  });

  const bound = udpSocket.address();
  return {
    address: bound.address,
    port: bound.port,
    family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4',
    get firewall() {
      return firewall;
    },
    get counters(): EmulatorCounters {
      return { ...counters };
    },
    setFirewallAvailable(available: boolean) {
      firewall = { ...firewall, settings: { ...firewall.settings, firewallAvailable: available } };
    },
    setFailOpen(value: FailOpen) {
      firewall = { ...firewall, settings: { ...firewall.settings, failOpen: value } };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udpSocket.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
      await options.queryLog?.close();
    },
  };
}
