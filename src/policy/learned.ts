// Learned IPs enter the evaluator as data (SEMANTICS.md section 5): (pod, name, ip, expiresAt).
import { DEFAULT_TTL_BOUNDS, type LearnedIP, learnedExpiry } from '../fqdn/learned.js';
import { normalizeName, patternMatchesName } from '../fqdn/pattern.js';
import { formatIP, tryParseIP } from './ip.js';

export type { LearnedIP };

/**
 * What a flow's `fqdn` stands for: `pod` resolved `name` to `ip` at `now` through dnsgate, with
 * the default TTL bounds (a zero TTL is clamped up to the 60 s minimum).
 */
export function learnedAt(pod: string, name: string, ip: string, now: number): LearnedIP {
  return { pod, name: normalizeName(name), ip, expiresAt: learnedExpiry(now, 0, DEFAULT_TTL_BOUNDS) };
}

/** Learned entries grouped by (pod, canonical IP), so one flow costs one map lookup. */
export class LearnedIndex {
  private readonly byPodIP = new Map<string, LearnedIP[]>();

  constructor(learned: readonly LearnedIP[]) {
    for (const entry of learned) this.add(entry);
  }

  add(entry: LearnedIP): void {
    const ip = tryParseIP(entry.ip);
    if (!ip) return;
    const key = `${entry.pod}|${formatIP(ip)}`;
    const list = this.byPodIP.get(key);
    if (list) list.push(entry);
    else this.byPodIP.set(key, [entry]);
  }

  /**
   * The first unexpired entry of `pod` for `ip` whose name matches one of `patterns`, if any.
   * Expiry is exclusive: at now === expiresAt the learning no longer opens new connections.
   */
  find(pod: string, ip: string, patterns: readonly string[], now: number): LearnedIP | undefined {
    const list = this.byPodIP.get(`${pod}|${ip}`);
    if (!list) return undefined;
    return list.find((e) => now < e.expiresAt && patterns.some((p) => patternMatchesName(p, e.name)));
  }
}
