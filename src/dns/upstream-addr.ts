import { isIP } from 'node:net';
import { DnsConfigError } from './errors.js';

/** One upstream resolver, always an IP literal so response sources can be compared exactly. */
export interface UpstreamAddr {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** `host:port` or `[host]:port`, used in logs and metric labels. */
  readonly label: string;
}

/** Parse `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`; the port defaults to 53. */
export function parseUpstream(text: string): UpstreamAddr {
  let host = text;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket !== null) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (isIP(text) === 0 && text.lastIndexOf(':') > 0) {
    host = text.slice(0, text.lastIndexOf(':'));
    port = Number(text.slice(text.lastIndexOf(':') + 1));
  }
  const family = isIP(host);
  if (family === 0) throw new DnsConfigError('upstreams', `not an IP address: ${text}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DnsConfigError('upstreams', `bad port: ${text}`);
  }
  // Canonical text, so it compares equal to the source address the socket reports.
  if (family === 6) host = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  const label = family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  return { host, port, family: family as 4 | 6, label };
}
