// LocalPodTracker against real kernels' tables: a harness node (routed veths), and a bridged node
// built here (a bridge in a netns, the pod's MAC learned on a port). Attach and detach follow
// veths appearing and disappearing (seen through `ip monitor`, the poll disabled) and pods
// leaving and re-entering the cluster state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalPodTracker, type LocalPodAttachment, type LocalPodDetachment } from '../../../src/sources/local-pods.js';
import { Harness, newPrefix, runOk } from '../../../src/sandbox/index.js';
import { emptyClusterState } from '../../../src/api/types.js';
import { needRoot } from '../../sandbox/need-root.js';
import { podsState } from '../../sandbox/fixtures.js';

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ifindex = async (netns: string, ifname: string) => Number((await runOk(['ip', 'netns', 'exec', netns, 'cat', `/sys/class/net/${ifname}/ifindex`])).trim());

describe.skipIf(!needRoot)('LocalPodTracker on a harness node (routed veths)', () => {
  const state = podsState([
    { ns: 'moon', name: 'a', ipv4: '10.244.60.2', ipv6: 'fd00:244::60:2', nodeName: 'node-a' },
    { ns: 'moon', name: 'b', ipv4: '10.244.60.3', nodeName: 'node-a' },
    { ns: 'moon', name: 'elsewhere', ipv4: '10.244.61.2', nodeName: 'node-b' },
    { ns: 'moon', name: 'hostnet', ipv4: '10.250.255.1', nodeName: 'node-a', hostNetwork: true },
  ]);
  let h: Harness;
  let tracker: LocalPodTracker | undefined;
  const attached: LocalPodAttachment[] = [];
  const detached: LocalPodDetachment[] = [];

  beforeAll(async () => {
    // Only node-a's pods exist on this node; node-b's pod is in the state but not here.
    h = await Harness.create({ state, nodeName: 'node-a' });
  });
  afterAll(async () => {
    await tracker?.stop();
    await h?.destroy();
  });

  const open = async (opts: { mode: 'standalone' | 'cluster'; nodeName?: string }) => {
    await tracker?.stop();
    attached.length = 0;
    detached.length = 0;
    tracker = new LocalPodTracker({ ...opts, netns: h.nodeNetns, pollIntervalMs: 0, debounceMs: 20 });
    tracker.on('attach', (a) => attached.push(a));
    tracker.on('detach', (d) => detached.push(d));
    await tracker.start(state);
    return tracker;
  };

  it('cluster mode: attaches node-a pods to their veths by route; the other node and host-network are not', async () => {
    const t = await open({ mode: 'cluster', nodeName: 'node-a' });
    const byRef = Object.fromEntries(attached.map((a) => [a.ref, a]));
    expect(Object.keys(byRef).sort()).toEqual(['moon/a', 'moon/b']);
    for (const ref of ['moon/a', 'moon/b']) {
      const hp = h.pod(ref);
      expect(byRef[ref]).toMatchObject({ ifname: hp.hostIf, via: 'route', ifindex: await ifindex(h.nodeNetns!, hp.hostIf) });
    }
    expect(byRef['moon/a']?.ips).toEqual(['10.244.60.2', 'fd00:244::60:2']);
    expect(t.pending()).toEqual([]);
  });

  it('standalone mode: every pod is a candidate; one with no route here waits, with the reason', async () => {
    const t = await open({ mode: 'standalone' });
    expect(attached.map((a) => a.ref).sort()).toEqual(['moon/a', 'moon/b']);
    expect(t.pending()).toEqual([{ ref: 'moon/elsewhere', ips: ['10.244.61.2'], reason: 'no route to 10.244.61.2' }]);
  });

  it('detaches when the veth disappears and attaches when a new one appears (ip monitor, no poll)', async () => {
    const t = await open({ mode: 'cluster', nodeName: 'node-a' });
    const node = h.nodeNetns!;
    const b = h.pod('moon/b');
    const oldIndex = await ifindex(node, b.hostIf);
    await runOk(['ip', '-n', node, 'link', 'del', b.hostIf]);
    const d = await waitFor('detach', () => detached[0]);
    expect(d).toMatchObject({ ref: 'moon/b', reason: 'interface-gone', ifname: b.hostIf, ifindex: oldIndex });
    expect(t.pending()).toEqual([expect.objectContaining({ ref: 'moon/b', reason: 'no route to 10.244.60.3' })]);
    // The pod comes back behind a new veth (what a CNI does on sandbox re-creation).
    const replacement = `${h.prefix}x0`;
    await runOk(['ip', '-n', node, 'link', 'add', replacement, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.netns]);
    await runOk(['ip', '-n', node, 'link', 'set', replacement, 'up']);
    await runOk(['ip', '-n', node, 'route', 'add', '10.244.60.3/32', 'dev', replacement]);
    const a = await waitFor('re-attach', () => attached.find((x) => x.ref === 'moon/b' && x.ifname === replacement));
    expect(a.ifindex).toBe(await ifindex(node, replacement));
    expect(t.attachments().map((x) => x.ref).sort()).toEqual(['moon/a', 'moon/b']);
  });

  it('detaches a pod that leaves the cluster state and attaches it again when it returns', async () => {
    const t = await open({ mode: 'cluster', nodeName: 'node-a' });
    const without = { ...emptyClusterState(), pods: state.pods.filter((p) => p.metadata.name !== 'a') };
    t.update(without);
    const d = await waitFor('detach', () => detached[0]);
    expect(d).toMatchObject({ ref: 'moon/a', reason: 'pod-gone' });
    t.update(state);
    await waitFor('attach', () => attached.filter((x) => x.ref === 'moon/a')[1]);
    // A new IP on the same interface is a detach + attach, so the agent re-programs the endpoint.
    const moved = { ...emptyClusterState(), pods: state.pods.map((p) => (p.metadata.name === 'a' ? { ...p, status: { podIP: '10.244.60.2' } } : p)) };
    t.update(moved);
    const d2 = await waitFor('ips-changed', () => detached.find((x) => x.reason === 'ips-changed'));
    expect(d2.ref).toBe('moon/a');
    const again = await waitFor('attach with one IP', () => attached.find((x) => x.ref === 'moon/a' && x.ips.length === 1));
    expect(again.ips).toEqual(['10.244.60.2']);
  });
});

describe.skipIf(!needRoot)('LocalPodTracker on a bridged node', () => {
  const prefix = newPrefix();
  const node = `${prefix}-brnode`;
  const podNs = `${prefix}-brpod`;
  const port = `${prefix}v0`;
  const state = podsState([{ ns: 'web', name: 'bridged', ipv4: '10.77.0.5' }]);
  let tracker: LocalPodTracker | undefined;

  beforeAll(async () => {
    await runOk(['ip', 'netns', 'add', node]);
    await runOk(['ip', 'netns', 'add', podNs]);
    const n = (...a: string[]) => runOk(['ip', '-n', node, ...a]);
    const p = (...a: string[]) => runOk(['ip', '-n', podNs, ...a]);
    await n('link', 'add', 'br0', 'type', 'bridge');
    await n('addr', 'add', '10.77.0.1/24', 'dev', 'br0');
    await n('link', 'set', 'br0', 'up');
    await n('link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
    await n('link', 'set', port, 'master', 'br0');
    await n('link', 'set', port, 'up');
    await p('addr', 'add', '10.77.0.5/24', 'dev', 'eth0');
    await p('link', 'set', 'eth0', 'up');
    await p('link', 'set', 'lo', 'up');
  });
  afterAll(async () => {
    await tracker?.stop();
    for (const ns of [podNs, node]) await runOk(['ip', 'netns', 'del', ns]).catch(() => undefined);
  });

  it('waits while the MAC is unknown, then attaches to the bridge port that learned it', async () => {
    const attached: LocalPodAttachment[] = [];
    tracker = new LocalPodTracker({ mode: 'standalone', netns: node, pollIntervalMs: 0, debounceMs: 20 });
    tracker.on('attach', (a) => attached.push(a));
    await tracker.start(state);
    expect(attached).toEqual([]);
    expect(tracker.pending()[0]?.reason).toMatch(/behind bridge br0 and its MAC is not known yet/);
    // The pod talks (to its gateway): the node's neighbour table and the bridge's FDB learn it.
    await runOk(['ip', 'netns', 'exec', podNs, 'ping', '-c1', '-W2', '10.77.0.1']);
    const a = await waitFor('attach via fdb', () => attached[0]);
    expect(a).toMatchObject({ ref: 'web/bridged', ifname: port, via: 'fdb', ifindex: await ifindex(node, port) });
  });
});
