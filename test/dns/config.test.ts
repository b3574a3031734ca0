// Proxy configuration: defaults, normalisation of allowedSuffixes (a suffix written with capitals
// or a trailing dot still matches), every limit checked, and errors from the learned-IP limits
// reported as DnsConfigError naming the field.
import fc from 'fast-check';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_DNS_PROXY_CONFIG, resolveConfig, type DnsProxyConfigInput } from '../../src/dns/config.js';
import { DnsConfigError } from '../../src/dns/errors.js';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import { DnsProxy } from '../../src/dns/proxy.js';
import { StaticPolicyView } from '../../src/dns/policy-view.js';
import { udpQuery } from './helpers/client.js';
import { rules, startFixture, type Fixture } from './helpers/fixture.js';

const base = { upstreams: ['127.0.0.1:53'] };

function configError(input: Partial<DnsProxyConfigInput> | Record<string, unknown>): DnsConfigError | undefined {
  try {
    resolveConfig({ ...base, ...input } as DnsProxyConfigInput);
    return undefined;
  } catch (err) {
    if (err instanceof DnsConfigError) return err;
    throw err;
  }
}

describe('resolveConfig', () => {
  it('fills in every default, the new TCP limits included', () => {
    const cfg = resolveConfig(base);
    expect(cfg).toMatchObject({ ...DEFAULT_DNS_PROXY_CONFIG, upstreams: base.upstreams });
    expect(cfg.tcpFrameTimeoutMs).toBe(5000);
    expect(cfg.tcpMaxConnectionLifetimeMs).toBe(300_000);
    expect(cfg.tcpWriteBufferSoftBytes).toBe(256 * 1024);
    expect(cfg.tcpWriteBufferHardBytes).toBe(1024 * 1024);
  });

  it.each([
    [['Cluster.Local.'], ['cluster.local']],
    [['EXAMPLE.com', 'svc.Cluster.Local'], ['example.com', 'svc.cluster.local']],
    [['.'], ['']],
    [[], []],
  ])('normalises allowedSuffixes %j to %j', (input, want) => {
    expect(resolveConfig({ ...base, allowedSuffixes: input }).allowedSuffixes).toEqual(want);
  });

  it('normalises any casing and trailing dot of a name to its lower-case form without the dot', () => {
    const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,20}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 5 }), fc.boolean(), (labels, dot) => {
        const name = labels.join('.');
        const [got] = resolveConfig({ ...base, allowedSuffixes: [dot ? `${name}.` : name] }).allowedSuffixes;
        expect(got).toBe(name.toLowerCase());
      }),
    );
  });

  it.each([
    ['tcpFrameTimeoutMs', 0],
    ['tcpFrameTimeoutMs', 1.5],
    ['tcpMaxConnectionLifetimeMs', -1],
    ['tcpMaxConnectionLifetimeMs', '60000'],
    ['tcpWriteBufferSoftBytes', 0],
    ['tcpWriteBufferSoftBytes', 16 * 1024 - 1],
    ['tcpWriteBufferHardBytes', 0],
    ['tcpWriteBufferHardBytes', 256 * 1024 + 65536],
    ['tcpIdleMs', 0],
    ['udpMaxPendingPerSocket', Number.NaN],
  ])('rejects %s = %j naming the field', (field, value) => {
    const err = configError({ [field]: value });
    expect(err).toBeInstanceOf(DnsConfigError);
    expect(err!.field).toBe(field);
  });

  it('accepts a hard limit exactly one largest message above the soft limit', () => {
    expect(configError({ tcpWriteBufferSoftBytes: 20_000, tcpWriteBufferHardBytes: 20_000 + 65537 })).toBeUndefined();
    expect(configError({ tcpWriteBufferSoftBytes: 20_000, tcpWriteBufferHardBytes: 20_000 + 65536 })?.field).toBe('tcpWriteBufferHardBytes');
  });

  it.each([
    [{ maxIPsPerName: 0, maxLearnedPerPod: 10 }, 'learnedLimits.maxIPsPerName'],
    [{ maxIPsPerName: 5, maxLearnedPerPod: 2.5 }, 'learnedLimits.maxLearnedPerPod'],
    [{ maxIPsPerName: Number.POSITIVE_INFINITY, maxLearnedPerPod: 10 }, 'learnedLimits.maxIPsPerName'],
  ])('reports bad learnedLimits %j as DnsConfigError on %s', (learnedLimits, field) => {
    const err = configError({ learnedLimits });
    expect(err).toBeInstanceOf(DnsConfigError);
    expect(err!.field).toBe(field);
    // So does the proxy, before anything is bound.
    expect(() => new DnsProxy({ ...base, learnedLimits }, { view: new StaticPolicyView(), datapath: new MemoryDatapath() })).toThrow(DnsConfigError);
  });

  it('fills learnedLimits fields left out with their defaults', () => {
    const cfg = resolveConfig({ ...base, learnedLimits: { maxIPsPerName: 7 } as DnsProxyConfigInput['learnedLimits'] });
    expect(cfg.learnedLimits).toEqual({ maxIPsPerName: 7, maxLearnedPerPod: DEFAULT_DNS_PROXY_CONFIG.learnedLimits.maxLearnedPerPod });
  });

  it.each([[['a..b']], [['x'.repeat(64) + '.test']], [[42]]])('rejects allowedSuffixes %j', (allowedSuffixes) => {
    expect(configError({ allowedSuffixes })?.field).toBe('allowedSuffixes');
  });
});

describe('allowedSuffixes in a running proxy', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  const ask = async (name: string): Promise<string | undefined> => {
    const q = dnsPacket.encode({ id: 9, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] });
    const reply = await udpQuery(f!.port, q);
    return reply === undefined ? undefined : (dnsPacket.decode(reply) as { rcode?: string }).rcode;
  };

  it('`Cluster.Local.` exempts cluster names from queryFilter: refuse, other names are still refused', async () => {
    f = await startFixture({ queryFilter: 'refuse', allowedSuffixes: ['Cluster.Local.'] });
    f.upstream.set('svc.ns.svc.cluster.local', { a: ['10.96.0.10'] });
    f.upstream.set('elsewhere.test', { a: ['192.0.2.9'] });
    f.view.setPod(['127.0.0.1'], { pod: 'ns/p', domainRules: rules('allowed.test'), egressIsolated: true });
    expect(await ask('svc.ns.svc.cluster.local')).toBe('NOERROR');
    expect(await ask('SVC.ns.svc.Cluster.Local')).toBe('NOERROR');
    expect(await ask('elsewhere.test')).toBe('REFUSED');
    expect(await ask('notcluster.local')).toBe('REFUSED');
  });
});
