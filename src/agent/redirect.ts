// Transparent DNS redirection with nftables: queries from local pods' veths to the cluster DNS IPs
// on port 53 (UDP and TCP) are DNATed to the proxy's listen address, and conntrack rewrites the
// answers' source back to the address the pod asked.
//
// Why nftables and not eBPF: the DNAT and its reverse translation (per UDP flow and per TCP
// connection) come from conntrack for free, where eBPF would need its own NAT state or socket
// steering (bpf_sk_assign) plus reply rewriting on the way back. The chain sits at prerouting
// priority dstnat - 10, ahead of kube-proxy's nat hooks, so kube-proxy never translates these
// queries (a connection is NATed once per direction). The tc program on the host veth runs before
// netfilter and sees the pre-DNAT destination (`<dns-ip>:53`), so policy still treats the query as
// egress to the DNS server (SEMANTICS.md 5).
//
// Everything lives in one dnsgate-owned table, rewritten atomically (one `nft -f` transaction)
// whenever the set of pod interfaces changes; a plain restart keeps it, `remove()` deletes it.
import { spawn } from 'node:child_process';
import { RedirectError } from './errors.js';
import { formatHostPort, type HostPort } from './host-port.js';

export const NFT_TABLE = 'dnsgate';
const FAMILY = 'inet';

export interface RedirectSpec {
  /** Cluster DNS Service IPs (canonical text) whose port-53 traffic is redirected. */
  readonly dnsIPs: readonly string[];
  /** DNAT target per family: the proxy's listen address. */
  readonly target: { readonly 4?: HostPort; readonly 6?: HostPort };
  /** Run nft in this network namespace (by name; `ip netns exec`), default: our own. */
  readonly netns?: string;
}

export interface NftResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runNft(args: readonly string[], input: string | undefined, netns?: string): Promise<NftResult> {
  const argv = netns === undefined ? ['nft', ...args] : ['ip', 'netns', 'exec', netns, 'nft', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {
      // nft may exit before reading its input; the exit code reports the problem
    });
    child.stdin.end(input ?? '');
  });
}

const quote = (ifname: string): string => `"${ifname.replace(/["\\]/g, '')}"`;

/** The whole table as one nft script (replaces any previous version atomically). */
export function redirectScript(spec: RedirectSpec, ifnames: readonly string[]): string {
  const v4 = spec.dnsIPs.filter((ip) => !ip.includes(':'));
  const v6 = spec.dnsIPs.filter((ip) => ip.includes(':'));
  const lines = [
    `add table ${FAMILY} ${NFT_TABLE}`,
    `delete table ${FAMILY} ${NFT_TABLE}`,
    `table ${FAMILY} ${NFT_TABLE} {`,
    `  comment "dnsgate: transparent DNS redirection of local pods (owned by dnsgate agent)"`,
    `  set pod_ifs {`,
    `    type ifname`,
    ...(ifnames.length > 0 ? [`    elements = { ${[...new Set(ifnames)].sort().map(quote).join(', ')} }`] : []),
    `  }`,
    `  chain dns_redirect {`,
    `    type nat hook prerouting priority dstnat - 10; policy accept;`,
  ];
  const t4 = spec.target[4];
  const t6 = spec.target[6];
  if (v4.length > 0 && t4) lines.push(`    iifname @pod_ifs meta l4proto { udp, tcp } th dport 53 ip daddr { ${v4.join(', ')} } dnat ip to ${formatHostPort(t4)}`);
  if (v6.length > 0 && t6) lines.push(`    iifname @pod_ifs meta l4proto { udp, tcp } th dport 53 ip6 daddr { ${v6.join(', ')} } dnat ip6 to ${formatHostPort(t6)}`);
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

export class NftRedirect {
  private ifnames = new Set<string>();
  private applied: string | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly spec: RedirectSpec) {}

  get interfaces(): string[] {
    return [...this.ifnames].sort();
  }

  /** Checks that nft runs here (a clear error at start rather than at the first pod). */
  async probe(): Promise<void> {
    const r = await runNft(['--version'], undefined, this.spec.netns).catch((e: Error) => ({ code: null, stdout: '', stderr: e.message }));
    if (r.code !== 0) throw new RedirectError('probe', r.code, r.stderr || 'nft not found (install nftables)');
  }

  /** Sets the redirected interfaces and rewrites the table when they changed. */
  setInterfaces(ifnames: Iterable<string>): Promise<void> {
    this.ifnames = new Set(ifnames);
    return this.sync();
  }

  /** Rewrites the table now if its content differs from what was last written. */
  sync(force = false): Promise<void> {
    // Serialized: two overlapping nft transactions could apply in the wrong order.
    const next = this.chain.then(async () => {
      const script = redirectScript(this.spec, [...this.ifnames]);
      if (!force && script === this.applied) return;
      const r = await runNft(['-f', '-'], script, this.spec.netns);
      if (r.code !== 0) throw new RedirectError('apply', r.code, r.stderr);
      this.applied = script;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Deletes the table (uninstall). */
  remove(): Promise<void> {
    return removeRedirectTable(this.spec.netns).then(() => {
      this.applied = undefined;
    });
  }
}

/** Deletes dnsgate's nft table if present; true when there was one. */
export async function removeRedirectTable(netns?: string): Promise<boolean> {
  const listed = await runNft(['list', 'table', FAMILY, NFT_TABLE], undefined, netns);
  if (listed.code !== 0) return false;
  const r = await runNft(['delete', 'table', FAMILY, NFT_TABLE], undefined, netns);
  if (r.code !== 0) throw new RedirectError('remove', r.code, r.stderr);
  return true;
}
