// Address helpers of the harness: pod IPs from a Pod, and the documentation ranges the outside
// world may use by default.
import { isIPv4, isIPv6 } from 'node:net';
import type { Pod } from '../api/types.js';

export function podIps(pod: Pod): { ipv4?: string; ipv6?: string } {
  const all = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter((x): x is string => typeof x === 'string' && x !== '');
  return { ipv4: all.find((ip) => isIPv4(ip)), ipv6: all.find((ip) => isIPv6(ip)) };
}

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

const DOC_V4: [string, number][] = [
  ['192.0.2.0', 24],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
];

/** RFC 5737 (TEST-NET-1/2/3) and RFC 3849 (2001:db8::/32). */
export function isDocumentationAddress(ip: string): boolean {
  if (isIPv4(ip)) {
    const x = v4ToInt(ip);
    return DOC_V4.some(([net, len]) => Math.floor(x / 2 ** (32 - len)) === Math.floor(v4ToInt(net) / 2 ** (32 - len)));
  }
  if (isIPv6(ip)) return /^2001:0?db8:/i.test(ip);
  return false;
}

export const hostRoute = (ip: string): string => (isIPv6(ip) ? `${ip}/128` : `${ip}/32`);
