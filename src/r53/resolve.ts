// Answers a question from the test zones the way a recursive resolver would present it: CNAME
// chains are followed across zones (the chain records first, then the final RRset), wildcards are
// synthesised from the closest encloser (RFC 4592), and a negative answer carries the SOA of the
// zone it ended in.
import { canonicalName, parentOf } from './names.js';
import { RECORD_TYPE_NUMBERS } from './zone-model.js';
import type { ResourceRecord, Zone, ZoneSet } from './zone-model.js';

export type ResolveRcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';

export interface Resolution {
  readonly rcode: ResolveRcode;
  /** CNAME records of the chain, in order, then the final RRset (if any). */
  readonly answers: readonly ResourceRecord[];
  /** The query name followed by every CNAME target, canonical. */
  readonly names: readonly string[];
  /** SOA of the zone a negative answer (NXDOMAIN or NODATA) came from. */
  readonly negativeSoa: ResourceRecord | undefined;
  /** False when the chain left every test zone. */
  readonly inZones: boolean;
}

export interface ResolveOptions {
  readonly unknownNameRcode: 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL';
  /** Longest chain followed before giving up with SERVFAIL (loops end here too). */
  readonly maxChain?: number;
}

const CNAME = RECORD_TYPE_NUMBERS.CNAME;
const ANY = 255;

/** Records at `name` in `zone`, synthesised from a wildcard when the name does not exist. */
function lookup(zone: Zone, name: string): { exists: boolean; records: ReadonlyMap<number, readonly ResourceRecord[]> | undefined } {
  if (zone.hasNode(name)) return { exists: true, records: zone.recordsAt(name) };
  let encloser = parentOf(name);
  while (encloser !== undefined && !zone.hasNode(encloser)) encloser = parentOf(encloser);
  if (encloser === undefined) return { exists: false, records: undefined };
  const wild = zone.recordsAt(encloser === '' ? '*' : `*.${encloser}`);
  if (!wild) return { exists: false, records: undefined };
  const synthesised = new Map<number, ResourceRecord[]>();
  for (const [type, list] of wild) synthesised.set(type, list.map((r) => ({ ...r, name }) as ResourceRecord));
  return { exists: true, records: synthesised };
}

export function resolveName(zones: ZoneSet, queryName: string, qtype: number, options: ResolveOptions): Resolution {
  const maxChain = options.maxChain ?? 16;
  const answers: ResourceRecord[] = [];
  const names: string[] = [];
  let name = canonicalName(queryName);
  for (;;) {
    names.push(name);
    const zone = zones.zoneFor(name);
    if (!zone) {
      return { rcode: options.unknownNameRcode, answers, names, negativeSoa: undefined, inZones: false };
    }
    const { exists, records } = lookup(zone, name);
    if (!exists) return { rcode: 'NXDOMAIN', answers, names, negativeSoa: zone.soa, inZones: true };
    const cname = records?.get(CNAME);
    if (cname && cname[0] && qtype !== CNAME && qtype !== ANY) {
      const record = cname[0];
      answers.push(record);
      if (names.length > maxChain || names.includes(record.data as string)) {
        return { rcode: 'SERVFAIL', answers: [], names, negativeSoa: undefined, inZones: true };
      }
      name = record.data as string;
      continue;
    }
    const found: ResourceRecord[] = [];
    if (qtype === ANY) for (const list of records?.values() ?? []) found.push(...list);
    else found.push(...(records?.get(qtype) ?? []));
    if (found.length === 0) return { rcode: 'NOERROR', answers, names, negativeSoa: zone.soa, inZones: true };
    answers.push(...found);
    return { rcode: 'NOERROR', answers, names, negativeSoa: undefined, inZones: true };
  }
}
