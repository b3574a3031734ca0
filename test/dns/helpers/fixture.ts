// A proxy on loopback in front of a TestUpstream, with the in-memory datapath and a static policy
// view, as every proxy test uses it.
import { pino } from 'pino';
import { MemoryDatapath } from '../../../src/datapath/memory/memory-datapath.js';
import type { DomainRuleRef } from '../../../src/datapath/types.js';
import { DnsProxy } from '../../../src/dns/proxy.js';
import { StaticPolicyView } from '../../../src/dns/policy-view.js';
import type { DnsProxyConfigInput } from '../../../src/dns/config.js';
import { TestUpstream } from './test-upstream.js';

export interface Fixture {
  upstream: TestUpstream;
  datapath: MemoryDatapath;
  view: StaticPolicyView;
  proxy: DnsProxy;
  port: number;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export const rules = (...patterns: string[]): DomainRuleRef[] => patterns.map((pattern, i) => ({ rule: `test/rule/${i}`, pattern }));

export async function startFixture(config: Partial<DnsProxyConfigInput> = {}, upstreams?: TestUpstream[]): Promise<Fixture> {
  const ups = upstreams ?? [await new TestUpstream().start()];
  const datapath = new MemoryDatapath();
  const view = new StaticPolicyView();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const proxy = new DnsProxy(
    { listen: [{ host: '127.0.0.1', port: 0 }], upstreamTimeoutMs: 500, upstreams: ups.map((u) => u.address), ...config },
    { view, datapath, logger },
  );
  const [bound] = await proxy.start();
  return {
    upstream: ups[0]!,
    datapath,
    view,
    proxy,
    port: bound!.port,
    logs,
    async close() {
      await proxy.close();
      for (const u of ups) await u.close();
    },
  };
}
