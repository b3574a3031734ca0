// Test zones the emulator answers from. Records are stored per owner name and type; every name
// between a record and its zone origin exists (empty non-terminals answer NODATA, not NXDOMAIN).
import { isAtOrBelow, parentOf } from './names.js';

export interface SoaFields {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

interface RecordBase {
  /** Canonical owner name. */
  readonly name: string;
  readonly ttl: number;
}

export type ResourceRecord =
  | (RecordBase & { readonly type: 'A' | 'AAAA' | 'CNAME'; readonly data: string })
  | (RecordBase & { readonly type: 'TXT'; readonly data: readonly string[] })
  | (RecordBase & { readonly type: 'MX'; readonly data: { readonly preference: number; readonly exchange: string } })
  | (RecordBase & { readonly type: 'SOA'; readonly data: SoaFields });

export type RecordType = ResourceRecord['type'];

export const RECORD_TYPE_NUMBERS: Readonly<Record<RecordType, number>> = {
  A: 1,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
};

export class Zone {
  /** owner name -> type number -> records */
  private readonly rrsets = new Map<string, Map<number, ResourceRecord[]>>();
  private readonly nodes = new Set<string>();

  constructor(
    readonly origin: string,
    readonly soa: ResourceRecord & { type: 'SOA' },
  ) {
    this.nodes.add(origin);
    this.add(soa);
  }

  add(record: ResourceRecord): void {
    const type = RECORD_TYPE_NUMBERS[record.type];
    let byType = this.rrsets.get(record.name);
    if (!byType) {
      byType = new Map();
      this.rrsets.set(record.name, byType);
    }
    const list = byType.get(type) ?? [];
    list.push(record);
    byType.set(type, list);
    for (let n: string | undefined = record.name; n !== undefined && isAtOrBelow(n, this.origin); n = parentOf(n)) {
      this.nodes.add(n);
      if (n === this.origin) break;
    }
  }

  /** Records of one owner name, by type number; undefined when the name holds no records. */
  recordsAt(name: string): ReadonlyMap<number, readonly ResourceRecord[]> | undefined {
    return this.rrsets.get(name);
  }

  /** The name exists in the zone (it owns records or is an empty non-terminal). */
  hasNode(name: string): boolean {
    return this.nodes.has(name);
  }

  contains(name: string): boolean {
    return isAtOrBelow(name, this.origin);
  }
}

export class ZoneSet {
  /** Longest origin first, so the most specific zone wins for nested zones. */
  readonly zones: readonly Zone[];

  constructor(zones: readonly Zone[]) {
    this.zones = [...zones].sort((a, b) => b.origin.length - a.origin.length);
  }

  zoneFor(name: string): Zone | undefined {
    return this.zones.find((z) => z.contains(name));
  }
}
