// Query log lines with the fields and spelling of Route 53 VPC Resolver query logs (version 1.1):
// answers as [{Rdata, Type, Class}], srcport as a string, names with the trailing dot, and the
// firewall_* fields only when a rule with action ALERT or BLOCK matched (AWS documents that they
// are populated only then).
import { createWriteStream } from 'node:fs';
import type { FirewallDecision } from './decide.js';
import type { EmulatorSettings } from './firewall-model.js';
import { fqdn } from './names.js';
import { qtypeName } from './qtypes.js';
import type { ResourceRecord } from './zone-model.js';

export interface QueryLogAnswer {
  readonly Rdata: string;
  readonly Type: string;
  readonly Class: string;
}

export interface QueryLogEntry {
  readonly version: string;
  readonly account_id: string;
  readonly region: string;
  readonly vpc_id: string;
  readonly query_timestamp: string;
  readonly query_name: string;
  readonly query_type: string;
  readonly query_class: string;
  readonly rcode: string;
  readonly answers: readonly QueryLogAnswer[];
  readonly srcaddr: string;
  readonly srcport: string;
  readonly transport: 'UDP' | 'TCP';
  readonly srcids: { readonly instance: string };
  readonly firewall_rule_group_id?: string;
  readonly firewall_rule_action?: string;
  readonly firewall_domain_list_id?: string;
}

function quoteTxt(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

export function rdataText(record: ResourceRecord): string {
  switch (record.type) {
    case 'A':
    case 'AAAA':
      return record.data;
    case 'CNAME':
      return fqdn(record.data);
    case 'TXT':
      return record.data.map(quoteTxt).join(' ');
    case 'MX':
      return `${record.data.preference} ${fqdn(record.data.exchange)}`;
    case 'SOA': {
      const d = record.data;
      return `${fqdn(d.mname)} ${fqdn(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
  }
}

export interface QueryLogInput {
  readonly settings: EmulatorSettings;
  readonly time: Date;
  readonly queryName: string;
  readonly qtype: number;
  readonly qclass: string;
  readonly rcode: string;
  readonly answers: readonly ResourceRecord[];
  readonly srcaddr: string;
  readonly srcport: number;
  readonly transport: 'UDP' | 'TCP';
  readonly decision: FirewallDecision | undefined;
}

export function queryLogEntry(input: QueryLogInput): QueryLogEntry {
  const s = input.settings;
  const logged = input.decision?.logged;
  const name = input.queryName.endsWith('.') ? input.queryName : `${input.queryName}.`;
  return {
    version: '1.100000',
    account_id: s.accountId,
    region: s.region,
    vpc_id: s.vpcId,
    query_timestamp: input.time.toISOString(),
    query_name: name,
    query_type: qtypeName(input.qtype),
    query_class: input.qclass,
    rcode: input.rcode,
    answers: input.answers.map((r) => ({ Rdata: rdataText(r), Type: r.type, Class: 'IN' })),
    srcaddr: input.srcaddr,
    srcport: String(input.srcport),
    transport: input.transport,
    srcids: { instance: s.instanceId },
    ...(logged
      ? {
          firewall_rule_group_id: logged.ruleGroupId,
          firewall_rule_action: logged.action,
          firewall_domain_list_id: logged.domainListId,
        }
      : {}),
  };
}

export interface QueryLogSink {
  write(entry: QueryLogEntry): void;
  close(): Promise<void>;
}

/** Appends JSON lines to a file, or to stdout for "-". */
export function fileQueryLog(path: string): QueryLogSink {
  if (path === '-') {
    return { write: (e) => void process.stdout.write(`${JSON.stringify(e)}\n`), close: async () => {} };
  }
  const stream = createWriteStream(path, { flags: 'a' });
  return {
    write: (e) => void stream.write(`${JSON.stringify(e)}\n`),
    close: () => new Promise<void>((res, rej) => stream.end((err?: Error | null) => (err ? rej(err) : res()))),
  };
}
