// "A node made of namespaces": pod namespaces on veths to the node, an upstream DNS namespace and
// an "outside world" namespace, all routed through the node (host side: /32 and /128 routes per
// address on the veth; namespace side: a default route via a link-local gateway whose neighbour
// entry is the node veth's MAC, so no proxy ARP/NDP and no shared subnet is needed).
// Everything is torn down by destroy(), on process exit and on SIGINT/SIGTERM/SIGHUP; sweep()
// removes what a killed process left.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIPv4, isIPv6 } from 'node:net';
import { isDocumentationAddress, hostRoute, podIps } from './addresses.js';
import { nodeEntry, startChild, type NetnsChild } from './children.js';
import { register, unregister } from './cleanup.js';
import { SandboxChildError, SandboxConfigError, SandboxConflictError } from './errors.js';
import { checkPrefix, ifName, newPrefix, podNetnsName } from './names.js';
import { ipBatch, run, runOk, runSync, type RunOptions, type RunResult } from './run.js';
import { killNetnsPids } from './sweep.js';
import type { HarnessEndpoint, HarnessOptions, HarnessPod } from './types.js';
import { Zone, type ZoneRecord } from './zone.js';

const GW4 = '169.254.1.1';
const GW6 = 'fe80::1';
const READY_MS = 20_000;

/** Root-mode harnesses alive in this process: forwarding sysctls are restored by the last one. */
const rootSysctls: { live: number; restore: [string, string][] } = { live: 0, restore: [] };

const DEFAULTS = {
  nodeV4: '10.250.255.1',
  nodeV6: 'fd00:250::1',
  dnsV4: '10.96.0.10',
  upV4: '10.250.53.53',
  upV6: 'fd00:250:53::53',
  tcp: [80, 443, 8080],
  udp: [7, 5300],
};

export class Harness {
  readonly prefix: string;
  readonly mode: 'own' | 'root';
  /** The node's network namespace ('own' mode), undefined when the node is the root namespace. */
  readonly nodeNetns: string | undefined;
  readonly pods: HarnessPod[] = [];
  upstream!: HarnessEndpoint & { port: number };
  outside!: HarnessEndpoint & { addresses: string[]; tcpPorts: number[]; udpPorts: number[] };
  readonly clusterDns: { ipv4?: string; ipv6?: string };

  private readonly opts: HarnessOptions;
  private readonly createdNetns: string[] = [];
  private readonly createdLinks: string[] = [];
  private readonly etcDirs: string[] = [];
  private readonly children: NetnsChild[] = [];
  private readonly workDir: string;
  private dnsChild: NetnsChild | undefined;
  private zoneRecords: ZoneRecord[];
  private upstreamAddresses: string[] = [];
  private destroyed = false;

  private constructor(opts: HarnessOptions) {
    this.opts = opts;
    this.prefix = opts.prefix ?? newPrefix();
    checkPrefix(this.prefix);
    this.mode = opts.node ?? 'own';
    this.nodeNetns = this.mode === 'own' ? `${this.prefix}-node` : undefined;
    this.clusterDns = { ipv4: opts.clusterDns?.ipv4 ?? (opts.clusterDns?.ipv6 ? undefined : DEFAULTS.dnsV4), ipv6: opts.clusterDns?.ipv6 };
    this.zoneRecords = opts.upstream?.records ?? [];
    this.workDir = mkdtempSync(join(tmpdir(), `dnsgate-sandbox-${this.prefix}-`));
    if (this.mode === 'root') rootSysctls.live++;
  }

  /** Builds the whole node; on any failure everything already made is removed before rethrowing. */
  static async create(opts: HarnessOptions): Promise<Harness> {
    const h = new Harness(opts);
    register(h);
    try {
      await h.build();
      return h;
    } catch (e) {
      h.destroySync();
      throw e;
    }
  }

  // ------------------------------------------------------------------ building

  private async build(): Promise<void> {
    const plan = this.plan();
    if (this.mode === 'root') await this.checkRootConflicts(plan.routed);
    await this.setupNode(plan.anyV6);
    for (const [i, p] of plan.pods.entries()) {
      const hostIf = ifName(this.prefix, 'p', i);
      await this.plugNamespace(p.netns, hostIf, [p.ipv4, p.ipv6]);
      this.writeResolvConf(p.netns, p.namespace);
      this.pods.push({ ...p, hostIf, podIf: 'eth0' });
    }
    const up = plan.upstream;
    await this.plugNamespace(up.netns, up.hostIf, [up.ipv4, up.ipv6]);
    this.upstream = { ...up, port: 53 };
    this.upstreamAddresses = [up.ipv4, up.ipv6].filter((x): x is string => x !== undefined);
    const out = plan.outside;
    await this.plugNamespace(out.netns, out.hostIf, out.addresses);
    this.outside = out;
    await Promise.all([this.startUpstream(), this.startOutside()]);
  }

  private plan() {
    const o = this.opts;
    const pods: Omit<HarnessPod, 'hostIf' | 'podIf'>[] = [];
    const usedNetns = new Set<string>();
    for (const pod of o.state.pods) {
      if (pod.spec.hostNetwork) continue;
      if (o.nodeName !== undefined && pod.spec.nodeName !== o.nodeName) continue;
      const { ipv4, ipv6 } = podIps(pod);
      const ref = `${pod.metadata.namespace}/${pod.metadata.name}`;
      if (!ipv4 && !ipv6) throw new SandboxConfigError(`Pod/${ref}`, 'has no status.podIP(s); the harness needs the addresses to build it');
      let netns = podNetnsName(this.prefix, pod.metadata.namespace, pod.metadata.name);
      if (usedNetns.has(netns)) netns = `${netns}-${pods.length}`;
      usedNetns.add(netns);
      pods.push({ ref, namespace: pod.metadata.namespace, name: pod.metadata.name, labels: pod.metadata.labels ?? {}, netns, ipv4, ipv6, object: pod });
    }
    const upV4 = o.upstream?.ipv4 ?? (o.upstream?.ipv6 ? undefined : DEFAULTS.upV4);
    const upV6 = o.upstream?.ipv6 ?? (o.upstream?.ipv4 || o.upstream?.r53 ? undefined : DEFAULTS.upV6);
    const upstream = { netns: `${this.prefix}-dns`, hostIf: ifName(this.prefix, 'd'), ipv4: upV4, ipv6: upV6 };
    const fromZone = new Zone(this.zoneRecords).addresses().filter(isDocumentationAddress);
    const addresses = [...new Set([...(o.outside?.addresses ?? []), ...fromZone])];
    for (const a of addresses) if (!isIPv4(a) && !isIPv6(a)) throw new SandboxConfigError('outside.addresses', `"${a}" is not an IP address`);
    const outside = {
      netns: `${this.prefix}-out`,
      hostIf: ifName(this.prefix, 'o'),
      ipv4: addresses.find((a) => isIPv4(a)),
      ipv6: addresses.find((a) => isIPv6(a)),
      addresses,
      tcpPorts: o.outside?.tcpPorts ?? DEFAULTS.tcp,
      udpPorts: o.outside?.udpPorts ?? DEFAULTS.udp,
    };
    const routed = [...pods.flatMap((p) => [p.ipv4, p.ipv6]), upV4, upV6, ...addresses].filter((x): x is string => x !== undefined);
    const seen = new Set<string>();
    for (const ip of routed) {
      if (seen.has(ip)) throw new SandboxConfigError('addresses', `${ip} is used twice (pods, upstream and outside must not share addresses)`);
      seen.add(ip);
    }
    return { pods, upstream, outside, routed, anyV6: routed.some((ip) => isIPv6(ip)) };
  }

  /** Root mode must not shadow anything the machine reaches directly (its own subnets, gateway). */
  private async checkRootConflicts(addresses: readonly string[]): Promise<void> {
    for (const ip of addresses) {
      const r = await run(['ip', '-j', 'route', 'get', ip]);
      if (r.code !== 0) continue; // unreachable: nothing to shadow
      const [route] = JSON.parse(r.stdout) as { type?: string; gateway?: string; dev?: string }[];
      if (route && (route.type === 'local' || route.gateway === undefined)) {
        throw new SandboxConflictError(ip, route.type === 'local' ? 'a local address' : `directly connected on ${route.dev}`);
      }
    }
  }

  private async sysctl(netns: string | undefined, settings: Record<string, string>): Promise<void> {
    if (netns === undefined) {
      for (const [k, v] of Object.entries(settings)) {
        const r = await runOk(['sysctl', '-n', k]);
        if (r.trim() !== v && !rootSysctls.restore.some(([key]) => key === k)) rootSysctls.restore.push([k, r.trim()]);
      }
    }
    await runOk(['sysctl', '-qw', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)], { netns });
  }

  private async addNetns(name: string): Promise<void> {
    await runOk(['ip', 'netns', 'add', name]);
    this.createdNetns.push(name);
    // No duplicate address detection: addresses are usable at once (nodad covers only globals).
    await this.sysctl(name, { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0' });
    await ipBatch(name, ['link set lo up']);
  }

  private async setupNode(anyV6: boolean): Promise<void> {
    const forward: Record<string, string> = { 'net.ipv4.ip_forward': '1' };
    if (anyV6) forward['net.ipv6.conf.all.forwarding'] = '1';
    if (this.nodeNetns === undefined) {
      await this.sysctl(undefined, forward);
      return;
    }
    await this.addNetns(this.nodeNetns);
    await this.sysctl(this.nodeNetns, forward);
    const v4 = this.opts.nodeAddress?.ipv4 ?? DEFAULTS.nodeV4;
    const v6 = this.opts.nodeAddress?.ipv6 ?? DEFAULTS.nodeV6;
    await ipBatch(this.nodeNetns, [`addr add ${v4}/32 dev lo`, `addr add ${v6}/128 dev lo nodad`]);
  }

  /** A namespace on a veth to the node, with `addresses` on its eth0, routed both ways. */
  private async plugNamespace(netns: string, hostIf: string, addresses: readonly (string | undefined)[]): Promise<void> {
    const ips = addresses.filter((x): x is string => x !== undefined);
    await this.addNetns(netns);
    await ipBatch(this.nodeNetns, [`link add ${hostIf} type veth peer name eth0 netns ${netns}`]);
    if (this.nodeNetns === undefined) this.createdLinks.push(hostIf);
    if (ips.some((ip) => isIPv6(ip))) await runOk(['sysctl', '-qw', `net.ipv6.conf.${hostIf}.accept_dad=0`], { netns: this.nodeNetns });
    await ipBatch(this.nodeNetns, [`link set ${hostIf} up`]);
    const mac = await this.macOf(hostIf);
    const inside = ips.map((ip) => (isIPv6(ip) ? `addr add ${ip}/128 dev eth0 nodad` : `addr add ${ip}/32 dev eth0`));
    inside.push('link set eth0 up');
    if (ips.some((ip) => isIPv4(ip))) {
      inside.push(`neigh replace ${GW4} lladdr ${mac} dev eth0 nud permanent`, `route add ${GW4} dev eth0 scope link`, `route add default via ${GW4} dev eth0`);
    }
    if (ips.some((ip) => isIPv6(ip))) inside.push(`neigh replace ${GW6} lladdr ${mac} dev eth0 nud permanent`, `route add default via ${GW6} dev eth0`);
    await ipBatch(netns, inside);
    await ipBatch(this.nodeNetns, ips.map((ip) => `route add ${hostRoute(ip)} dev ${hostIf}`));
  }

  private async macOf(ifname: string): Promise<string> {
    const out = await runOk(this.nodeNetns ? ['ip', '-n', this.nodeNetns, '-j', 'link', 'show', 'dev', ifname] : ['ip', '-j', 'link', 'show', 'dev', ifname]);
    const [link] = JSON.parse(out) as { address: string }[];
    if (!link) throw new SandboxConfigError(ifname, 'veth vanished right after creation');
    return link.address;
  }

  private writeResolvConf(netns: string, namespace: string): void {
    const dir = join('/etc/netns', netns);
    mkdirSync(dir, { recursive: true });
    this.etcDirs.push(dir);
    const domain = this.opts.clusterDns?.clusterDomain ?? 'cluster.local';
    const lines = [`search ${namespace}.svc.${domain} svc.${domain} ${domain}`];
    for (const ip of [this.clusterDns.ipv4, this.clusterDns.ipv6]) if (ip) lines.push(`nameserver ${ip}`);
    lines.push(`options ndots:${this.opts.clusterDns?.ndots ?? 5} timeout:2 attempts:2`);
    writeFileSync(join(dir, 'resolv.conf'), `${lines.join('\n')}\n`);
  }

  private zoneFile(): string {
    const file = join(this.workDir, 'zone.json');
    writeFileSync(file, JSON.stringify({ records: this.zoneRecords, addresses: this.upstreamAddresses, port: 53 }));
    return file;
  }

  private async startUpstream(): Promise<void> {
    const r53 = this.opts.upstream?.r53;
    if (!r53) {
      const child = startChild('upstream dns', this.upstream.netns, [...nodeEntry('./servers/dns-main'), this.zoneFile()]);
      this.children.push(child);
      this.dnsChild = child;
      await child.waitLine('ready', READY_MS);
      return;
    }
    if (!this.upstream.ipv4) throw new SandboxConfigError('upstream.r53', 'the Route 53 emulator listens on one address: give upstream.ipv4');
    const argv = [...nodeEntry('../cli/index'), 'r53-emulator', ...r53.zoneFiles.flatMap((f) => ['--zones', f]), '--firewall', r53.firewallFile, '--listen', `${this.upstream.ipv4}:53`];
    const child = startChild('r53 emulator', this.upstream.netns, argv);
    this.children.push(child);
    // The emulator prints no readiness line: ask it until it answers.
    const end = Date.now() + READY_MS;
    for (;;) {
      const r = await run(['dig', `@${this.upstream.ipv4}`, '+time=1', '+tries=1', '.', 'SOA'], { netns: this.upstream.netns, timeoutMs: 3000 });
      if (r.code === 0) return;
      if (child.process.exitCode !== null) throw new SandboxChildError(child.name, `exited (code ${child.process.exitCode}) before answering`, child.stderr());
      if (Date.now() > end) throw new SandboxChildError(child.name, `no answer within ${READY_MS} ms`, child.stderr());
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  private async startOutside(): Promise<void> {
    const file = join(this.workDir, 'outside.json');
    writeFileSync(file, JSON.stringify({ addresses: this.outside.addresses, tcp: this.outside.tcpPorts, udp: this.outside.udpPorts }));
    const child = startChild('outside servers', this.outside.netns, [...nodeEntry('./servers/outside-main'), file]);
    this.children.push(child);
    await child.waitLine('ready', READY_MS);
  }

  // ------------------------------------------------------------------ using

  /** A pod by "namespace/name" (or bare name when unique). */
  pod(ref: string): HarnessPod {
    const hits = this.pods.filter((p) => p.ref === ref || (!ref.includes('/') && p.name === ref));
    if (hits.length !== 1) throw new SandboxConfigError('pod', `${hits.length === 0 ? 'no' : 'more than one'} harness pod "${ref}" (have: ${this.pods.map((p) => p.ref).join(', ')})`);
    return hits[0]!;
  }

  /** Runs argv inside the pod's namespace (with its resolv.conf); never throws on exit status. */
  exec(pod: string | HarnessPod, argv: readonly string[], opts: Omit<RunOptions, 'netns'> = {}): Promise<RunResult> {
    const p = typeof pod === 'string' ? this.pod(pod) : pod;
    return run(argv, { ...opts, netns: p.netns, timeoutMs: opts.timeoutMs ?? this.opts.execTimeoutMs ?? 10_000 });
  }

  /** Runs argv in the node's namespace (the root namespace in 'root' mode). */
  execNode(argv: readonly string[], opts: Omit<RunOptions, 'netns'> = {}): Promise<RunResult> {
    return run(argv, { ...opts, netns: this.nodeNetns, timeoutMs: opts.timeoutMs ?? this.opts.execTimeoutMs ?? 10_000 });
  }

  /** Replaces the built-in upstream's zone; resolves once the server answers from the new one. */
  async setZone(records: ZoneRecord[]): Promise<void> {
    if (!this.dnsChild) throw new SandboxConfigError('upstream', 'setZone needs the built-in server (not the Route 53 emulator)');
    this.zoneRecords = records;
    this.zoneFile();
    const reloaded = this.dnsChild.waitLine('reloaded', READY_MS);
    this.dnsChild.process.kill('SIGHUP');
    await reloaded;
  }

  /**
   * Makes the cluster DNS address(es) answer by giving them to the upstream namespace (routed via
   * its veth). For testing the harness and clients without an agent; the agent instead intercepts
   * them on the node.
   */
  async serveClusterDnsFromUpstream(): Promise<void> {
    if (!this.dnsChild) throw new SandboxConfigError('upstream', 'needs the built-in server (not the Route 53 emulator)');
    const ips = [this.clusterDns.ipv4, this.clusterDns.ipv6].filter((x): x is string => x !== undefined && !this.upstreamAddresses.includes(x));
    if (this.mode === 'root') await this.checkRootConflicts(ips);
    await ipBatch(this.upstream.netns, ips.map((ip) => (isIPv6(ip) ? `addr add ${ip}/128 dev lo nodad` : `addr add ${ip}/32 dev lo`)));
    await ipBatch(this.nodeNetns, ips.map((ip) => `route add ${hostRoute(ip)} dev ${this.upstream.hostIf}`));
    this.upstreamAddresses.push(...ips);
    await this.setZone(this.zoneRecords);
  }

  /** Everything this harness created (for cleanup checks and diagnostics). */
  inventory(): { netns: string[]; hostLinks: string[]; etcDirs: string[]; routes: string[] } {
    const routes = [...this.pods.flatMap((p) => [p.ipv4, p.ipv6]), this.upstream?.ipv4, this.upstream?.ipv6, ...(this.outside?.addresses ?? [])].filter((x): x is string => x !== undefined);
    return { netns: [...this.createdNetns], hostLinks: [...this.createdLinks], etcDirs: [...this.etcDirs], routes };
  }

  // ------------------------------------------------------------------ teardown

  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** Idempotent; synchronous so exit and signal handlers can run it. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    unregister(this);
    for (const c of this.children) c.process.kill('SIGKILL');
    // Pods first, the node last: deleting a namespace deletes its veth ends, and their routes.
    for (const ns of [...this.createdNetns].reverse()) {
      killNetnsPids(ns);
      runSync(['ip', 'netns', 'del', ns]);
    }
    for (const link of this.createdLinks) runSync(['ip', 'link', 'del', link]);
    for (const dir of this.etcDirs) rmSync(dir, { recursive: true, force: true });
    if (this.mode === 'root' && --rootSysctls.live === 0) {
      for (const [k, v] of rootSysctls.restore.splice(0).reverse()) runSync(['sysctl', '-qw', `${k}=${v}`]);
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** Builds a harness, runs `fn`, and always tears it down (also when `fn` throws). */
export async function withHarness<T>(opts: HarnessOptions, fn: (h: Harness) => Promise<T>): Promise<T> {
  const h = await Harness.create(opts);
  try {
    return await fn(h);
  } finally {
    await h.destroy();
  }
}
