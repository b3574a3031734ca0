// Kubernetes mode of the end-to-end node: the API stand-in (test/support/kube-apiserver) runs in
// the test process and holds the cluster the manifests describe; a veth from the root namespace
// into the node namespace and a TCP relay on its host end make it reachable from the agent, which
// gets a kubeconfig (its own CA, a bearer token) as it would in a cluster.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { run, runOk, type Harness } from '../../src/sandbox/index.js';
import { writeKubeconfigFile } from '../support/kube-apiserver/client-config.js';
import { KubeApiStandIn } from '../support/kube-apiserver/server.js';
import type { KubeEndpoint } from './node.js';

type Obj = Record<string, unknown>;

/** The user the agent's token maps to, as a service account would. */
export const AGENT_USER = 'system:serviceaccount:dnsgate-system:dnsgate';

/** Every object of the manifest files, in order (a later one with the same identity replaces). */
export function manifestObjects(files: readonly string[]): Obj[] {
  const out = new Map<string, Obj>();
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const o = doc.toJS() as unknown;
      if (typeof o !== 'object' || o === null) continue;
      const obj = o as Obj;
      const m = (obj.metadata ?? {}) as Obj;
      out.set(`${String(obj.apiVersion)}/${String(obj.kind)}/${String(m.namespace ?? '')}/${String(m.name)}`, obj);
    }
  }
  return [...out.values()];
}

/** A certificate for `ip` (server cert and its own CA), made with openssl in `dir`. */
function certFor(dir: string, ip: string): { cert: string; key: string } {
  const certPath = join(dir, 'api.crt');
  const keyPath = join(dir, 'api.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${ip}`, '-addext', `subjectAltName=IP:${ip}`, '-keyout', keyPath, '-out', certPath],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

export class KubeApiLink {
  readonly api: KubeApiStandIn;
  private relay: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private hostIf: string | undefined;

  private constructor(
    api: KubeApiStandIn,
    private readonly hostIp: string,
    private readonly nodeIp: string,
    private readonly caPem: string,
    /** A directory this link made (certificate files) and removes on close(). */
    private ownDir: string | undefined,
  ) {
    this.api = api;
  }

  /**
   * The stand-in filled with the manifests' objects, and a factory for E2eNodeOptions.kube that
   * links it to the node. Call close() (E2eNode.destroy does) to take it all down. Without `dir`
   * the certificate goes to a temporary directory that close() removes.
   */
  static async create(manifests: readonly string[], dir?: string): Promise<KubeApiLink> {
    // A random /30 in 10.251.0.0/16: the relay's end on the host, the agent's end in the node.
    const base = randomInt(0, 16384) * 4;
    const ip = (n: number): string => `10.251.${Math.floor((base + n) / 256)}.${(base + n) % 256}`;
    const hostIp = ip(1);
    const certDir = dir ?? mkdtempSync(join(tmpdir(), 'dnsgate-e2e-kube-'));
    const ownDir = dir === undefined ? certDir : undefined;
    let api: KubeApiStandIn | undefined;
    try {
      const tls = certFor(certDir, hostIp);
      api = new KubeApiStandIn({ tls, tokens: { 'agent-token': AGENT_USER } });
      await api.start();
      for (const o of manifestObjects(manifests)) api.apply(o);
      return new KubeApiLink(api, hostIp, ip(2), tls.cert, ownDir);
    } catch (err) {
      await api?.stop().catch(() => {});
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** For E2eNodeOptions.kube: the veth into the node, the relay, and the agent's kubeconfig. */
  readonly endpoint = async (h: Harness, dir: string): Promise<KubeEndpoint> => {
    const netns = h.nodeNetns;
    if (netns === undefined) throw new Error('Kubernetes e2e mode needs the node in its own namespace');
    const hostIf = `dgk${randomBytes(3).toString('hex')}`;
    this.hostIf = hostIf;
    try {
      await runOk(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'kapi0', 'netns', netns]);
      await runOk(['ip', 'addr', 'add', `${this.hostIp}/30`, 'dev', hostIf]);
      await runOk(['ip', 'link', 'set', hostIf, 'up']);
      await runOk(['ip', 'addr', 'add', `${this.nodeIp}/30`, 'dev', 'kapi0'], { netns });
      await runOk(['ip', 'link', 'set', 'kapi0', 'up'], { netns });
      const target = new URL(this.api.url);
      this.relay = net.createServer((client) => {
        const upstream = net.connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          this.sockets.add(s);
          s.on('close', () => this.sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      const relay = this.relay;
      await new Promise<void>((resolve, reject) => {
        relay.once('error', reject);
        relay.listen(0, this.hostIp, resolve);
      });
      const { port } = relay.address() as AddressInfo;
      const kubeconfig = writeKubeconfigFile(dir, `https://${this.hostIp}:${port}`, 'agent-token', this.caPem);
      return { kubeconfig, close: () => this.close() };
    } catch (err) {
      await this.close();
      throw err;
    }
  };

  /** Stops the relay and the stand-in and removes the veth; never throws. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const relay = this.relay;
    this.relay = undefined;
    if (relay) await new Promise<void>((resolve) => relay.close(() => resolve()));
    await this.api.stop().catch(() => {});
    if (this.hostIf) await run(['ip', 'link', 'del', this.hostIf]);
    this.hostIf = undefined;
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
    this.ownDir = undefined;
  }

  /** The stand-in's copy of an object (status included). */
  get(o: Obj): Obj | undefined {
    const m = o.metadata as Obj;
    return this.api.get(String(o.apiVersion), String(o.kind), String(m.name), m.namespace as string | undefined);
  }
}
