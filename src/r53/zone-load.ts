// The YAML zone format:
//
//   zones:
//     - origin: example.com          # the zone apex
//       ttl: 300                     # default TTL of the zone's records (default 300)
//       soa: { mname: ns1.example.com, rname: hostmaster.example.com, minimum: 60 }  # optional
//       records:
//         - { name: www, type: A, value: 192.0.2.10, ttl: 60 }
//         - { name: "@", type: MX, value: "10 mail.example.com" }
//         - { name: alias, type: CNAME, value: www.example.net }
//         - { name: "*.apps", type: A, values: [192.0.2.20, 192.0.2.21] }
//         - { name: txt, type: TXT, value: "v=spf1 -all" }
//
// Owner names are relative to the origin ("@" is the origin itself) unless they end with a dot.
// Names inside values (CNAME target, MX exchange, SOA names) are always absolute; a trailing dot is
// optional. Errors name the file and the record, e.g. `zones.yaml: zones[0].records[3] (www A): ...`.
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { ZoneError } from './errors.js';
import { canonicalName, isAtOrBelow, nameProblem } from './names.js';
import { RECORD_TYPE_NUMBERS, Zone, ZoneSet } from './zone-model.js';
import type { RecordType, ResourceRecord, SoaFields } from './zone-model.js';

const MAX_TTL = 2_147_483_647;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class ZoneParser {
  constructor(private readonly file: string) {}

  fail(where: string, reason: string): never {
    throw new ZoneError(this.file, where, reason);
  }

  ttl(value: unknown, where: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TTL) {
      this.fail(where, `ttl must be an integer 0..${MAX_TTL}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  absoluteName(value: unknown, where: string, what: string): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(where, `${what} must be a non-empty name`);
    const name = canonicalName(value.trim());
    const problem = nameProblem(name);
    if (problem) this.fail(where, `${what} ${JSON.stringify(value)}: ${problem}`);
    return name;
  }

  ownerName(value: unknown, origin: string, where: string): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(where, 'name must be a non-empty string');
    const raw = value.trim();
    let name: string;
    if (raw === '@') name = origin;
    else if (raw.endsWith('.')) name = canonicalName(raw);
    else name = canonicalName(origin === '' ? raw : `${raw}.${origin}`);
    if (!isAtOrBelow(name, origin)) this.fail(where, `name ${JSON.stringify(raw)} is outside the zone ${origin}`);
    const labels = name.split('.');
    if (labels.slice(1).includes('*')) this.fail(where, 'a "*" label is only allowed leftmost');
    const rest = labels[0] === '*' ? labels.slice(1).join('.') : name;
    const problem = nameProblem(rest);
    if (problem) this.fail(where, `name ${JSON.stringify(raw)}: ${problem}`);
    return name;
  }

  soa(value: unknown, origin: string, where: string, defaultTtl: number): ResourceRecord & { type: 'SOA' } {
    const raw = value === undefined ? {} : value;
    if (!isObject(raw)) this.fail(where, 'soa must be a mapping');
    const num = (key: keyof SoaFields, fallback: number): number => {
      const v = raw[key];
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4_294_967_295) {
        this.fail(where, `soa.${key} must be an unsigned 32-bit integer`);
      }
      return v;
    };
    const data: SoaFields = {
      mname: raw.mname === undefined ? `ns1.${origin}` : this.absoluteName(raw.mname, where, 'soa.mname'),
      rname: raw.rname === undefined ? `hostmaster.${origin}` : this.absoluteName(raw.rname, where, 'soa.rname'),
      serial: num('serial', 1),
      refresh: num('refresh', 7200),
      retry: num('retry', 900),
      expire: num('expire', 1_209_600),
      minimum: num('minimum', 60),
    };
    return { name: origin, type: 'SOA', ttl: this.ttl(raw.ttl, where, defaultTtl), data };
  }

  recordData(type: RecordType, value: unknown, where: string): ResourceRecord['data'] {
    switch (type) {
      case 'A':
        if (typeof value !== 'string' || !isIPv4(value)) this.fail(where, `A value must be an IPv4 address, got ${JSON.stringify(value)}`);
        return value;
      case 'AAAA':
        if (typeof value !== 'string' || !isIPv6(value)) this.fail(where, `AAAA value must be an IPv6 address, got ${JSON.stringify(value)}`);
        return value;
      case 'CNAME':
        return this.absoluteName(value, where, 'CNAME target');
      case 'TXT': {
        if (typeof value !== 'string') this.fail(where, 'TXT value must be a string');
        const chunks: string[] = [];
        for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
        return chunks.length === 0 ? [''] : chunks;
      }
      case 'MX': {
        let preference: unknown;
        let exchange: unknown;
        if (typeof value === 'string') {
          const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(value);
          if (!m) this.fail(where, `MX value must be "PREFERENCE EXCHANGE", got ${JSON.stringify(value)}`);
          preference = Number(m[1]);
          exchange = m[2];
        } else if (isObject(value)) {
          preference = value.preference;
          exchange = value.exchange;
        } else this.fail(where, 'MX value must be "PREFERENCE EXCHANGE" or { preference, exchange }');
        if (typeof preference !== 'number' || !Number.isInteger(preference) || preference < 0 || preference > 65535) {
          this.fail(where, 'MX preference must be an integer 0..65535');
        }
        return { preference, exchange: this.absoluteName(exchange, where, 'MX exchange') };
      }
      case 'SOA':
        return this.fail(where, 'SOA is set with the zone-level "soa" key, not as a record');
    }
  }

  zone(raw: unknown, index: number): Zone {
    const at = `zones[${index}]`;
    if (!isObject(raw)) this.fail(at, 'must be a mapping with origin and records');
    const origin = this.absoluteName(raw.origin, at, 'origin');
    const defaultTtl = this.ttl(raw.ttl, at, 300);
    const zone = new Zone(origin, this.soa(raw.soa, origin, `${at}.soa`, defaultTtl));
    const records = raw.records ?? [];
    if (!Array.isArray(records)) this.fail(`${at}.records`, 'must be a list');
    const cnameOwners = new Set<string>();
    const otherOwners = new Set<string>([origin]);
    records.forEach((rec: unknown, i: number) => {
      let where = `${at}.records[${i}]`;
      if (!isObject(rec)) this.fail(where, 'must be a mapping with name, type and value');
      const type = typeof rec.type === 'string' ? rec.type.toUpperCase() : rec.type;
      where = `${where} (${String(rec.name)} ${String(type)})`;
      if (typeof type !== 'string' || !(type in RECORD_TYPE_NUMBERS)) {
        this.fail(where, `type must be one of ${Object.keys(RECORD_TYPE_NUMBERS).join(', ')}`);
      }
      const recordType = type as RecordType;
      const name = this.ownerName(rec.name, origin, where);
      const ttl = this.ttl(rec.ttl, where, defaultTtl);
      if (rec.value !== undefined && rec.values !== undefined) this.fail(where, 'set either value or values, not both');
      const values = rec.values !== undefined ? rec.values : [rec.value];
      if (!Array.isArray(values) || values.length === 0 || values[0] === undefined) this.fail(where, 'value (or a non-empty values list) is required');
      if (recordType === 'CNAME') {
        if (values.length !== 1) this.fail(where, 'a name holds at most one CNAME');
        if (cnameOwners.has(name)) this.fail(where, 'a name holds at most one CNAME');
        if (otherOwners.has(name)) this.fail(where, 'a CNAME cannot coexist with other records at the same name (RFC 1034)');
        cnameOwners.add(name);
      } else {
        if (cnameOwners.has(name)) this.fail(where, 'a CNAME cannot coexist with other records at the same name (RFC 1034)');
        otherOwners.add(name);
      }
      for (const value of values) {
        zone.add({ name, type: recordType, ttl, data: this.recordData(recordType, value, where) } as ResourceRecord);
      }
    });
    return zone;
  }

  zoneSet(doc: unknown): ZoneSet {
    if (!isObject(doc) || !Array.isArray(doc.zones)) this.fail('zones', 'the file must hold a "zones" list');
    const zones = doc.zones.map((z: unknown, i: number) => this.zone(z, i));
    const seen = new Set<string>();
    zones.forEach((z, i) => {
      if (seen.has(z.origin)) this.fail(`zones[${i}]`, `origin ${z.origin} is defined twice`);
      seen.add(z.origin);
    });
    return new ZoneSet(zones);
  }
}

export function parseZones(text: string, file: string): Zone[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ZoneError(file, '(document)', `not valid YAML: ${(err as Error).message}`);
  }
  return [...new ZoneParser(file).zoneSet(doc).zones];
}

/** Loads one or more zone files into one set; an origin defined in two files is an error. */
export async function loadZoneFiles(files: readonly string[]): Promise<ZoneSet> {
  const all: Zone[] = [];
  const origins = new Map<string, string>();
  for (const file of files) {
    for (const zone of parseZones(await readFile(file, 'utf8'), file)) {
      const other = origins.get(zone.origin);
      if (other !== undefined) throw new ZoneError(file, `zone ${zone.origin}`, `origin already defined in ${other}`);
      origins.set(zone.origin, file);
      all.push(zone);
    }
  }
  return new ZoneSet(all);
}
