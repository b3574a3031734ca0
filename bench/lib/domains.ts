// Realistic generated domain names (seeded), for benchmarks that need patterns or query names.
import { pick, randomInt } from './random.js';
import type { Random } from './random.js';

const TLDS = ['com', 'net', 'org', 'io', 'dev', 'cloud', 'co.uk', 'amazonaws.com', 'googleapis.com', 'svc.cluster.local'];
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function domainLabel(rnd: Random): string {
  const n = randomInt(rnd, 2, 12);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  return rnd() < 0.15 ? `${s}-${pick(rnd, ['api', 'prod', 'eu', 'us-east-1', 'v2'])}` : s;
}

// 2..5 labels: "api.stripe.com", "s3.eu-west-1.amazonaws.com", "x.y.svc.cluster.local".
export function domainName(rnd: Random): string {
  const parts = [];
  const own = randomInt(rnd, 1, 3);
  for (let i = 0; i < own; i++) parts.push(domainLabel(rnd));
  return `${parts.join('.')}.${pick(rnd, TLDS)}`;
}
