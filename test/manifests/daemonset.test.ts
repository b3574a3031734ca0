// The DaemonSet runs the agent the way its code needs: host network, the eBPF and nftables
// capabilities and no more, bpffs and state on host paths, probes on the agent's health server,
// an update strategy that keeps the node enforcing, and a config that the agent's own config
// resolver accepts once the DaemonSet's per-node arguments are filled in.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseDocument, isMap, isSeq, type YAMLMap } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CONFIG_FIELDS } from '../../src/agent/config-fields.js';
import { resolveAgentConfig, type AgentConfig } from '../../src/agent/config.js';
import { canonicalIp, isConcreteAddress } from '../../src/agent/host-port.js';
import { at, findObject, isObj, MANIFESTS_ROOT, type Obj } from './manifest-files.js';

const ds = findObject('DaemonSet', 'dnsgate');
const pod = at(ds, 'spec.template.spec') as Obj;
const containers = pod.containers as Obj[];
const initContainers = (pod.initContainers ?? []) as Obj[];
const agent = containers.find((c) => c.name === 'agent')!;
const volumes = pod.volumes as Obj[];
const configMap = findObject('ConfigMap', 'dnsgate-config');

const volume = (name: string): Obj => volumes.find((v) => v.name === name)!;
const mountsOf = (c: Obj): Obj[] => (c.volumeMounts ?? []) as Obj[];
const mountOf = (c: Obj, name: string): Obj | undefined => mountsOf(c).find((m) => m.name === name);

/** The agent's args with the downward-API variables filled in, as the kubelet does. */
function argsFor(env: Record<string, string>): string[] {
  return (agent.args as string[]).map((a) => a.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_m, name: string) => env[name] ?? `$(${name})`));
}

/** Flag -> config field path, from the agent's field table (the CLI's flags are made from it). */
const FLAG_FIELDS = new Map(
  CONFIG_FIELDS.filter((f) => f.flag).map((f) => [/--[a-z0-9-]+/.exec(f.flag!)![0], f] as const),
);

/** What the agent would resolve: the ConfigMap's file plus the args as field overrides. */
function resolvedConfig(env: Record<string, string>, extra: Record<string, unknown> = {}): AgentConfig {
  const args = argsFor(env);
  expect(args[0]).toBe('agent');
  const overrides: Record<string, unknown> = {};
  let configPath: string | undefined;
  for (let i = 1; i < args.length; i += 2) {
    const flag = args[i]!;
    const value = args[i + 1]!;
    if (flag === '--config' || flag === '-c') {
      configPath = value;
      continue;
    }
    const field = FLAG_FIELDS.get(flag);
    expect(field, `${flag} is not a flag of dnsgate agent`).toBeDefined();
    overrides[field!.path] = field!.type.kind === 'strings' ? [value] : value;
  }
  expect(configPath).toBeDefined();
  // The file the config volume puts at that path.
  const mount = mountsOf(agent).find((m) => configPath!.startsWith(`${String(m.mountPath)}/`))!;
  expect(mount, `no volume mounted at ${configPath}`).toBeDefined();
  expect(volume(String(mount.name)).configMap).toMatchObject({ name: 'dnsgate-config' });
  const key = configPath!.slice(String(mount.mountPath).length + 1);
  const text = (configMap.data as Record<string, string>)[key];
  expect(text, `ConfigMap has no key ${key}`).toBeDefined();
  const file = { value: parseDocument(text!).toJS() as unknown, path: configPath! };
  // dnsPolicy ClusterFirstWithHostNet: the pod's resolv.conf names the cluster DNS.
  return resolveAgentConfig({ file, overrides: { ...overrides, ...extra }, resolvConf: () => 'search default.svc.cluster.local\nnameserver 10.96.0.10\n' });
}

describe('DaemonSet pod', () => {
  it('is on the host network with cluster DNS, node-critical, on every node', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(pod.priorityClassName).toBe('system-node-critical');
    // A toleration with operator Exists and no key tolerates every taint.
    expect((pod.tolerations as Obj[]).some((t) => t.operator === 'Exists' && t.key === undefined && t.effect === undefined)).toBe(true);
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.affinity).toBeUndefined();
  });

  it('runs as the ServiceAccount the RBAC binds', () => {
    const sa = findObject('ServiceAccount', 'dnsgate');
    expect(pod.serviceAccountName).toBe('dnsgate');
    expect((sa.metadata as Obj).namespace).toBe((ds.metadata as Obj).namespace);
    expect(pod.automountServiceAccountToken).not.toBe(false);
  });

  it('updates one node at a time, without surge, with a grace period longer than a query', () => {
    expect(at(ds, 'spec.updateStrategy')).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(at(ds, 'spec.minReadySeconds')).toBeGreaterThan(0);
    const config = resolvedConfig({ NODE_NAME: 'node-a', NODE_IP: '10.0.0.5', POD_NAMESPACE: 'dnsgate-system' });
    const grace = pod.terminationGracePeriodSeconds as number;
    expect(grace * 1000).toBeGreaterThan(config.dns.programTimeoutMs + config.dns.upstreamTimeoutMs);
  });

  it('keeps the selector matching the template', () => {
    const labels = at(ds, 'spec.template.metadata.labels') as Obj;
    for (const [k, v] of Object.entries(at(ds, 'spec.selector.matchLabels') as Obj)) expect(labels[k]).toBe(v);
  });
});

describe('agent container', () => {
  const sc = agent.securityContext as Obj;

  it('adds exactly BPF, PERFMON and NET_ADMIN, drops everything else, is not privileged', () => {
    expect(at(sc, 'capabilities.drop')).toEqual(['ALL']);
    expect([...(at(sc, 'capabilities.add') as string[])].sort()).toEqual(['BPF', 'NET_ADMIN', 'PERFMON']);
    expect(sc.privileged).not.toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
  });

  it('no container gets SYS_ADMIN; a privileged one is the bpffs mounter only, with its reason in a comment', () => {
    for (const c of [...containers, ...initContainers]) {
      const add = (at(c, 'securityContext.capabilities.add') ?? []) as string[];
      expect(add.map((x) => x.replace(/^CAP_/, '')), String(c.name)).not.toContain('SYS_ADMIN');
    }
    const privileged = [...containers, ...initContainers].filter((c) => at(c, 'securityContext.privileged') === true);
    expect(privileged.map((c) => c.name)).toEqual(['mount-bpffs']);
    expect(initContainers.map((c) => c.name)).toContain('mount-bpffs');
    // The justification sits in the YAML above the container.
    const doc = parseDocument(readFileSync(join(MANIFESTS_ROOT, 'deploy', 'daemonset.yaml'), 'utf8'));
    const inits = doc.getIn(['spec', 'template', 'spec', 'initContainers']);
    expect(isSeq(inits)).toBe(true);
    const node = (inits as { items: unknown[] }).items.find((n) => isMap(n) && (n as YAMLMap).get('name') === 'mount-bpffs') as YAMLMap;
    const comment = `${(inits as { commentBefore?: string }).commentBefore ?? ''}\n${node.commentBefore ?? ''}`;
    expect(comment).toMatch(/Bidirectional/);
    expect(comment).toMatch(/privileged/);
    expect(at(initContainers.find((c) => c.name === 'mount-bpffs'), 'command')).toEqual(['/bin/sh', '-c', 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf']);
  });

  it('mounts bpffs from the host (Bidirectional in the mounter, HostToContainer in the agent)', () => {
    expect(volume('bpffs').hostPath).toMatchObject({ path: '/sys/fs/bpf' });
    const init = initContainers.find((c) => c.name === 'mount-bpffs')!;
    expect(mountOf(init, 'bpffs')).toMatchObject({ mountPath: '/sys/fs/bpf', mountPropagation: 'Bidirectional' });
    expect(mountOf(agent, 'bpffs')).toMatchObject({ mountPath: '/sys/fs/bpf', mountPropagation: 'HostToContainer' });
  });

  it("puts the config's bpffs pin directory and state directory on host paths", () => {
    const config = resolvedConfig({ NODE_NAME: 'node-a', NODE_IP: '10.0.0.5', POD_NAMESPACE: 'dnsgate-system' });
    const hostPathOf = (dir: string): string | undefined => {
      const m = mountsOf(agent)
        .filter((x) => dir === x.mountPath || dir.startsWith(`${String(x.mountPath)}/`))
        .sort((a, b) => String(b.mountPath).length - String(a.mountPath).length)[0];
      const hp = m ? (volume(String(m.name)).hostPath as Obj | undefined) : undefined;
      return hp ? `${String(hp.path)}${dir.slice(String(m!.mountPath).length)}` : undefined;
    };
    expect(config.paths.bpffs.startsWith('/sys/fs/bpf/')).toBe(true);
    expect(hostPathOf(config.paths.bpffs)).toBe(config.paths.bpffs);
    expect(hostPathOf(config.paths.state)).toBe('/var/lib/dnsgate');
    expect(mountOf(agent, 'state')?.readOnly).not.toBe(true);
  });

  it('probes /readyz and /healthz on the port the health server listens on', () => {
    const config = resolvedConfig({ NODE_NAME: 'node-a', NODE_IP: '10.0.0.5', POD_NAMESPACE: 'dnsgate-system' });
    const ports = agent.ports as Obj[];
    const portOf = (p: unknown): unknown => (typeof p === 'string' ? ports.find((x) => x.name === p)?.containerPort : p);
    const probe = (name: string): Obj => agent[name] as Obj;
    expect(at(probe('readinessProbe'), 'httpGet.path')).toBe('/readyz');
    expect(at(probe('livenessProbe'), 'httpGet.path')).toBe('/healthz');
    for (const name of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      expect(portOf(at(probe(name), 'httpGet.port')), name).toBe(config.http.listen.port);
      // host unset: the kubelet probes the pod IP, which on the host network is the node IP.
      expect(at(probe(name), 'httpGet.host'), name).toBeUndefined();
    }
    expect(config.http.listen.host).toBe('10.0.0.5');
  });

  it('requests resources in every container and caps the agent memory', () => {
    for (const c of [...containers, ...initContainers]) {
      expect(at(c, 'resources.requests.cpu'), String(c.name)).toBeDefined();
      expect(at(c, 'resources.requests.memory'), String(c.name)).toBeDefined();
    }
    expect(at(agent, 'resources.limits.memory')).toBeDefined();
  });

  it('defines every variable its arguments use, from the downward API', () => {
    const env = new Map((agent.env as Obj[]).map((e) => [e.name, at(e, 'valueFrom.fieldRef.fieldPath')]));
    const used = (agent.args as string[]).flatMap((a) => [...a.matchAll(/\$\(([A-Z_][A-Z0-9_]*)\)/g)].map((m) => m[1]));
    expect(used.length).toBeGreaterThan(0);
    for (const v of used) expect(env.has(v), `$(${String(v)})`).toBe(true);
    expect(env.get('NODE_NAME')).toBe('spec.nodeName');
    expect(env.get('NODE_IP')).toBe('status.hostIP');
  });
});

describe('agent config (ConfigMap + DaemonSet arguments)', () => {
  const nodeName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/);
  // A node's IP is never loopback or unspecified (however it is spelt).
  const concrete = (ip: string): boolean => isConcreteAddress(canonicalIp(ip) ?? '::');
  const check = (ip: string, name: string, extra: Record<string, unknown> = {}): void => {
    const config = resolvedConfig({ NODE_NAME: name, NODE_IP: ip, POD_NAMESPACE: 'dnsgate-system' }, extra);
    expect(config.nodeName).toBe(name);
    expect(config.dns.listen).toHaveLength(1);
    expect(config.dns.listen[0]!.port).toBe(5353);
    expect(config.http.listen.port).toBe(9808);
    expect(config.dns.listen[0]!.host).toBe(config.http.listen.host);
    expect(config.dns.listen[0]!.family).toBe(ip.includes(':') ? 6 : 4);
  };

  // Generated: whatever IPv4 address the node has, the agent accepts its config and listens for the
  // redirected DNS on exactly that address (the shipped cluster DNS IP is IPv4).
  it('resolves for any IPv4 node address and node name, the proxy on the node IP as the DNAT target', () => {
    fc.assert(
      fc.property(fc.ipV4().filter(concrete), nodeName, (ip, name) => check(ip, name)),
      { numRuns: 200 },
    );
  });

  // An IPv6 cluster sets an IPv6 cluster DNS IP; the bracketed arguments then carry an IPv6 node IP.
  it('resolves for any IPv6 node address once clusterDnsIPs is IPv6; an IPv4 DNS IP needs an IPv4 node IP', () => {
    fc.assert(
      fc.property(fc.ipV6().filter((ip) => concrete(ip) && !ip.includes('.')), nodeName, (ip, name) => {
        check(ip, name, { 'dns.clusterDnsIPs': ['fd00:10:96::a'] });
        expect(() => check(ip, name)).toThrow(/IPv4 listen address/);
      }),
      { numRuns: 200 },
    );
  });

  it('is the kube-source shape: no manifest files, the eBPF datapath, DNS redirected', () => {
    const config = resolvedConfig({ NODE_NAME: 'node-a', NODE_IP: '10.0.0.5', POD_NAMESPACE: 'dnsgate-system' });
    expect(config.manifests).toEqual([]);
    expect(config.datapath).toBe('ebpf');
    expect(config.dns.clusterDnsIPs.length).toBeGreaterThan(0);
    expect(config.dns.upstreams).toEqual(['10.96.0.10']);
  });

  it('the container ports are the ports the config listens on', () => {
    const config = resolvedConfig({ NODE_NAME: 'node-a', NODE_IP: '10.0.0.5', POD_NAMESPACE: 'dnsgate-system' });
    const ports = (agent.ports as Obj[]).map((p) => `${String(p.protocol)}/${String(p.containerPort)}`).sort();
    const want = [`UDP/${config.dns.listen[0]!.port}`, `TCP/${config.dns.listen[0]!.port}`, `TCP/${config.http.listen.port}`].sort();
    expect(ports).toEqual(want);
  });

  it('a broken argument is caught by the same resolution (the check can fail)', () => {
    expect(() => resolvedConfig({ NODE_NAME: 'node-a', NODE_IP: 'not-an-ip', POD_NAMESPACE: 'x' })).toThrow(/dns\.listen/);
    expect(() => resolvedConfig({ NODE_NAME: 'node-a', NODE_IP: '127.0.0.1', POD_NAMESPACE: 'x' })).toThrow(/dns\.listen/);
    expect(isObj(configMap.data)).toBe(true);
  });
});
