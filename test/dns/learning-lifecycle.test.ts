// The learned store mirrors the datapath through failures and pod churn: a learn that fails (even
// after programming part of its batch) leaves both as they were, and learning still in flight
// when forgetPod runs never installs anything for the pod (nor for a successor with its name).
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import type { LearnedEntry } from '../../src/datapath/types.js';
import { DnsProxy } from '../../src/dns/proxy.js';
import { StaticPolicyView } from '../../src/dns/policy-view.js';
import { dig } from './helpers/client.js';
import { rules } from './helpers/fixture.js';
import { TestUpstream } from './helpers/test-upstream.js';

const POD = { ip: '127.0.0.2', pod: 'ns/pod-a' };

/** Programs only the first entry of each batch, then reports failure: a partial write. */
class HalfFailingDatapath extends MemoryDatapath {
  failing = false;
  override async learn(entries: readonly LearnedEntry[]): Promise<void> {
    if (!this.failing) return super.learn(entries);
    await super.learn(entries.slice(0, 1));
    throw new Error('map full after one entry');
  }
}

interface Rig {
  upstream: TestUpstream;
  datapath: MemoryDatapath;
  view: StaticPolicyView;
  proxy: DnsProxy;
  port: number;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.proxy.close();
    await r.upstream.close();
  }
});

async function rig(datapath: MemoryDatapath = new MemoryDatapath()): Promise<Rig> {
  const upstream = await new TestUpstream().start();
  const view = new StaticPolicyView();
  view.setPod([POD.ip], { pod: POD.pod, domainRules: rules('*.example.test'), egressIsolated: true });
  const proxy = new DnsProxy(
    { listen: [{ host: '127.0.0.1', port: 0 }], upstreams: [upstream.address], upstreamTimeoutMs: 1000, programTimeoutMs: 2000 },
    { view, datapath, logger: pino({ level: 'silent' }) },
  );
  const [bound] = await proxy.start();
  const r = { upstream, datapath, view, proxy, port: bound!.port };
  rigs.push(r);
  return r;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (const started = Date.now(); !cond(); await new Promise((res) => setTimeout(res, 2))) {
    if (Date.now() - started > 2000) throw new Error(`timed out waiting for ${what}`);
  }
}

const digPod = async (r: Rig, name: string) => (await dig(r.port, ['-b', POD.ip, name]))[0]!;
const snapshot = (r: Rig) => ({
  store: r.proxy.store.entries(POD.pod).sort((a, b) => a.ip.localeCompare(b.ip)),
  datapath: r.datapath
    .learnedOf(POD.pod)
    .map((e) => ({ pod: e.pod, name: e.name, ip: e.ip, expiresAt: e.expiresAt }))
    .sort((a, b) => a.ip.localeCompare(b.ip)),
});

describe('a failed learn leaves store and datapath as before', () => {
  it.each([
    ['the datapath refuses the whole batch', (dp: HalfFailingDatapath) => dp.failLearn('map full')],
    ['the datapath programs part of the batch, then fails', (dp: HalfFailingDatapath) => void (dp.failing = true)],
  ])('%s', async (_label, breakIt) => {
    const dp = new HalfFailingDatapath();
    const r = await rig(dp);
    r.upstream.set('x.example.test', { a: ['192.0.2.1'], ttl: 300 });
    expect((await digPod(r, 'x.example.test')).status).toBe('NOERROR');
    const before = snapshot(r);
    expect(before.store.map((e) => e.ip)).toEqual(['192.0.2.1']);
    expect(before.datapath).toEqual(before.store);

    // The next answer adds two addresses and would extend the known one.
    r.upstream.set('x.example.test', { a: ['192.0.2.3', '192.0.2.2', '192.0.2.1'], ttl: 3600 });
    breakIt(dp);
    expect((await digPod(r, 'x.example.test')).status).toBe('SERVFAIL');
    expect(snapshot(r)).toEqual(before);
  });
});

describe('learning in flight when forgetPod runs', () => {
  it.each([
    ['while the datapath programs it', { a: ['192.0.2.10'] }, 150, (r: Rig) => r.datapath.counters().learnCalls > 0],
    ['while the query is upstream', { a: ['192.0.2.10'], delayMs: 150 }, 0, (r: Rig) => r.upstream.received.length > 0],
  ])('%s: nothing is installed, the client gets SERVFAIL, a successor with the same name starts clean', async (label, rule, learnDelay, reached) => {
    const r = await rig();
    r.upstream.set('slow.example.test', rule);
    r.datapath.delayLearn(learnDelay);
    const pending = digPod(r, 'slow.example.test');
    await until(() => reached(r), label);
    expect(await r.proxy.forgetPod(POD.pod)).toBe(0);
    // Recreated under the same name and address.
    r.view.setPod([POD.ip], { pod: POD.pod, domainRules: rules('*.example.test'), egressIsolated: true });
    expect((await pending).status).toBe('SERVFAIL');
    await new Promise((res) => setTimeout(res, 50));
    expect(snapshot(r)).toEqual({ store: [], datapath: [] });

    // The successor learns for itself.
    r.datapath.delayLearn(0);
    r.upstream.set('slow.example.test', { a: ['192.0.2.11'] });
    expect((await digPod(r, 'slow.example.test')).status).toBe('NOERROR');
    expect(snapshot(r).datapath.map((e) => e.ip)).toEqual(['192.0.2.11']);
  });

  it("taking back the old pod's learning does not remove what its successor learns for the same name", async () => {
    const r = await rig();
    r.upstream.set('same.example.test', { a: ['192.0.2.20'] });
    let calls = 0;
    r.datapath.setLearnHook(() => new Promise((res) => setTimeout(res, ++calls === 1 ? 150 : 5)));
    const old = digPod(r, 'same.example.test');
    await until(() => calls > 0, 'the first learn');
    await r.proxy.forgetPod(POD.pod);
    r.view.setPod([POD.ip], { pod: POD.pod, domainRules: rules('*.example.test'), egressIsolated: true });
    // The successor's answer (same name, same address) queues behind the old one's programming.
    const successor = digPod(r, 'same.example.test');
    expect((await old).status).toBe('SERVFAIL');
    const s = await successor;
    expect(s.status).toBe('NOERROR');
    expect(snapshot(r).datapath.map((e) => e.ip)).toEqual(['192.0.2.20']);
    expect(snapshot(r).store.map((e) => e.ip)).toEqual(['192.0.2.20']);
  });
});
