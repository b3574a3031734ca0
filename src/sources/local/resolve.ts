// Which host interface each local pod is behind. Routed setups (Calico-style veths, most CNIs):
// the device of the route to the pod IP. Bridged setups (the route's device is a bridge): the
// bridge port whose FDB holds the MAC the node's neighbour table has for the pod IP. A route via
// a gateway, a local address or no route at all means the pod is not behind a local interface.
import type { FdbEntry, LinkInfo, NeighEntry, RouteAnswer } from './netlink.js';
import type { LocalPodCandidate } from './select.js';

export interface ResolvedInterface {
  ifname: string;
  ifindex: number;
  via: 'route' | 'fdb';
}

export type Resolution = { ok: true; iface: ResolvedInterface; warning?: string } | { ok: false; reason: string };

export interface NetTables {
  routes: Map<string, RouteAnswer>;
  links: Map<string, LinkInfo>;
  neighbours: NeighEntry[];
  fdb: FdbEntry[];
}

const DEAD_NEIGH = new Set(['FAILED', 'INCOMPLETE', 'NOARP']);

function resolveIp(ip: string, t: NetTables): Resolution {
  const route = t.routes.get(ip);
  if (!route || !route.dev) return { ok: false, reason: `no route to ${ip}` };
  if (route.type === 'local') return { ok: false, reason: `${ip} is a local address of this host` };
  if (route.type && route.type !== 'unicast') return { ok: false, reason: `${ip} routes as ${route.type}` };
  if (route.gateway) return { ok: false, reason: `${ip} is reached via gateway ${route.gateway} on ${route.dev}, not a local pod interface` };
  const link = t.links.get(route.dev);
  if (!link) return { ok: false, reason: `${ip} routes to ${route.dev}, which has vanished` };
  if (link.kind !== 'bridge') return { ok: true, iface: { ifname: link.ifname, ifindex: link.ifindex, via: 'route' } };
  const neigh = t.neighbours.find((n) => n.dst === ip && n.dev === link.ifname && n.lladdr && !(n.state ?? []).some((s) => DEAD_NEIGH.has(s)));
  if (!neigh?.lladdr) return { ok: false, reason: `${ip} is behind bridge ${link.ifname} and its MAC is not known yet (no neighbour entry)` };
  const mac = neigh.lladdr.toLowerCase();
  const entry = t.fdb.find((f) => f.mac.toLowerCase() === mac && f.ifname !== link.ifname && (f.master === link.ifname || t.links.get(f.ifname)?.master === link.ifname) && !(f.flags ?? []).includes('self'));
  if (!entry) return { ok: false, reason: `${ip} (${mac}) is behind bridge ${link.ifname} but no bridge port has learned that MAC` };
  const port = t.links.get(entry.ifname);
  if (!port) return { ok: false, reason: `${ip} (${mac}) is on bridge port ${entry.ifname}, which has vanished` };
  return { ok: true, iface: { ifname: port.ifname, ifindex: port.ifindex, via: 'fdb' } };
}

/** The pod's interface from its first resolvable IP; a second IP behind another interface is a warning. */
export function resolvePod(pod: LocalPodCandidate, t: NetTables): Resolution {
  if (pod.ips.length === 0) return { ok: false, reason: 'no pod IP yet' };
  const results = pod.ips.map((ip) => resolveIp(ip, t));
  const first = results.find((r): r is Extract<Resolution, { ok: true }> => r.ok);
  if (!first) return { ok: false, reason: results.map((r) => (r.ok ? '' : r.reason)).join('; ') };
  const other = results.find((r) => r.ok && r.iface.ifindex !== first.iface.ifindex);
  if (other?.ok) return { ...first, warning: `pod IPs are behind different interfaces (${first.iface.ifname}, ${other.iface.ifname}); using ${first.iface.ifname}` };
  return first;
}
