// `host:port` / `[v6]:port` text as written in the agent's config, parsed to canonical parts.
import { isIP } from 'node:net';

export interface HostPort {
  /** Canonical IP text (IPv6 compressed, lower case). */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Canonical text of an IP literal, or undefined when `text` is not one. */
export function canonicalIp(text: string): string | undefined {
  const family = isIP(text);
  if (family === 4) return text;
  if (family === 6) return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  return undefined;
}

/**
 * Parses `1.2.3.4:53`, `[fd00::1]:53`, and (when `defaultPort` is given) a bare IP. Returns a
 * reason string instead of throwing so the caller can name the field.
 */
export function parseHostPort(text: string, defaultPort?: number): HostPort | string {
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket !== null) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (isIP(text) !== 0) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    if (i <= 0) return defaultPort !== undefined ? `"${text}" is not an IP address` : `"${text}" is not host:port`;
    host = text.slice(0, i);
    portText = text.slice(i + 1);
  }
  const canonical = canonicalIp(host);
  if (canonical === undefined) return `"${text}": "${host}" is not an IP address`;
  let port = defaultPort;
  if (portText !== undefined) port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (port === undefined) return `"${text}" has no port`;
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `"${text}": port must be 0..65535`;
  return { host: canonical, port, family: isIP(canonical) as 4 | 6 };
}

export function formatHostPort(hp: { host: string; port: number }): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** An address a DNAT can point at and a reply can come from: not 0.0.0.0/::, not loopback. */
export function isConcreteAddress(ip: string): boolean {
  if (ip === '0.0.0.0' || ip === '::') return false;
  if (ip.startsWith('127.') || ip === '::1') return false;
  return true;
}
