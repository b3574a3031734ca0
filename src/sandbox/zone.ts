// The test upstream's zone data and how it answers: exact names, `*.` wildcards (one or more
// labels, the most specific wins), CNAME chains followed inside the zone, NXDOMAIN for names with
// no records, NODATA when the name exists without the asked type. Pure: the server child and the
// tests share it.

export type ZoneRecordType = 'A' | 'AAAA' | 'CNAME' | 'TXT';

export interface ZoneRecord {
  /** Owner name, or `*.suffix` for a wildcard. Case and one trailing dot are ignored. */
  name: string;
  type: ZoneRecordType;
  /** Seconds (default 300). */
  ttl?: number;
  data: string;
}

export interface ZoneAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';
  answers: { name: string; type: ZoneRecordType; ttl: number; data: string }[];
}

const MAX_CHAIN = 8;

export const normalizeName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export class Zone {
  private readonly byName = new Map<string, ZoneRecord[]>();

  constructor(readonly records: readonly ZoneRecord[]) {
    for (const r of records) {
      const key = normalizeName(r.name);
      const list = this.byName.get(key) ?? [];
      list.push(r);
      this.byName.set(key, list);
    }
  }

  /** Records owned by `name`: exact owner first, else the closest `*.` wildcard above it. */
  private lookup(name: string): ZoneRecord[] | undefined {
    const exact = this.byName.get(name);
    if (exact) return exact;
    const labels = name.split('.');
    for (let i = 1; i < labels.length; i++) {
      const wild = this.byName.get(`*.${labels.slice(i).join('.')}`);
      if (wild) return wild;
    }
    return undefined;
  }

  answer(qname: string, qtype: string): ZoneAnswer {
    const answers: ZoneAnswer['answers'] = [];
    let name = normalizeName(qname);
    for (let hop = 0; hop < MAX_CHAIN; hop++) {
      const records = this.lookup(name);
      if (!records) return { rcode: hop === 0 ? 'NXDOMAIN' : 'NOERROR', answers };
      const direct = records.filter((r) => r.type === qtype);
      if (direct.length > 0 || qtype === 'CNAME') {
        for (const r of direct) answers.push({ name, type: r.type, ttl: r.ttl ?? 300, data: r.data });
        return { rcode: 'NOERROR', answers };
      }
      const cname = records.find((r) => r.type === 'CNAME');
      if (!cname) return { rcode: 'NOERROR', answers };
      answers.push({ name, type: 'CNAME', ttl: cname.ttl ?? 300, data: normalizeName(cname.data) });
      name = normalizeName(cname.data);
    }
    return { rcode: 'SERVFAIL', answers: [] };
  }

  /** Every address the zone hands out (the outside world's servers live there). */
  addresses(): string[] {
    return [...new Set(this.records.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => r.data))];
  }
}
