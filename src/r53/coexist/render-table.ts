// The human form of a coexistence report: one table line per (subject, name), then the details
// that matter for rewritten answers, the conflicts and the notes.
import type { CoexistReport, FirewallView, Row, TypeResult } from './types.js';

function firewallCell(fw: FirewallView): string {
  if (fw.verdict === 'SERVFAIL') return 'UNAVAILABLE (fail-closed)';
  if (fw.bypassed) return 'UNAVAILABLE (fail-open, uninspected)';
  if (fw.action === null) return '- (no rule)';
  const where = `${fw.ruleGroup}/${fw.rule}${fw.chainIndex ? ` at ${fw.matchedName}` : ''}`;
  if (fw.blockResponse === 'OVERRIDE') return `OVERRIDE -> ${fw.overrideDomain} ${where}`;
  if (fw.verdict === 'BLOCK') return `BLOCK ${fw.blockResponse} ${where}`;
  return `${fw.action} ${where}`;
}

function policyCell(r: TypeResult | undefined, row: Row): string {
  const p = r?.intended;
  // No intended verdict: the pod lacks the family, or the zones hold no address for the name.
  if (!p) return r?.outcome.kind === 'no-family' ? 'n/a' : 'no address';
  const by = row.patterns.length > 0 ? ` by ${[...new Set(row.patterns.map((x) => x.pattern))].join(',')}` : '';
  return p.verdict === 'Allow' ? `allow ${p.allowedPorts.join(',')}${by}` : 'deny';
}

function outcomeCell(r: TypeResult): string {
  const k = r.outcome.kind;
  return k === 'blocked-by-firewall' || k === 'no-address' ? `${k} ${r.outcome.rcode ?? ''}`.trim() : k;
}

/** The A cell, with the AAAA one appended when it differs. */
function both(row: Row, cell: (r: TypeResult) => string): string {
  const [a, aaaa] = row.results;
  if (!a || !aaaa) return a ? cell(a) : '';
  if (a.outcome.kind === 'no-family') return `AAAA: ${cell(aaaa)}`;
  if (aaaa.outcome.kind === 'no-family') return cell(a);
  const x = cell(a);
  const y = cell(aaaa);
  return x === y ? x : `A: ${x} | AAAA: ${y}`;
}

function subjectCell(report: CoexistReport, id: string): string {
  const s = report.subjects.find((x) => x.id === id);
  const more = s && s.pods.length > 1 ? ` (+${s.pods.length - 1})` : '';
  return `${id}${more}`;
}

function layout(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function renderTable(report: CoexistReport): string {
  const lines: string[] = [];
  const header = ['SUBJECT', 'NAME', 'POLICY (no firewall)', 'FIREWALL', 'OUTCOME'];
  const body = report.rows.map((row) => {
    const primary = row.results.find((r) => r.outcome.kind !== 'no-family') ?? row.results[0];
    return [
      subjectCell(report, row.subject),
      row.probeFor ? `${row.name} (${row.probeFor})` : row.name,
      policyCell(primary, row),
      both(row, (r) => firewallCell(r.firewall)),
      both(row, outcomeCell),
    ];
  });
  lines.push(...layout([header, ...body]));

  const detailed = report.rows.filter((r) => r.results.some((x) => x.firewall.blockResponse === 'OVERRIDE' || x.firewall.chainIndex));
  if (detailed.length > 0) {
    lines.push('', 'REWRITES AND CHAINS');
    for (const row of detailed) {
      const r = row.results.find((x) => x.outcome.kind !== 'no-family');
      if (!r) continue;
      lines.push(`${row.subject} ${row.name}: ${r.outcome.summary}`);
      const learned = r.learned.map((l) => `${l.ip}${l.ttl === null ? '' : ` (chain ttl ${l.ttl}s, open ${l.learnedForSeconds}s)`}`).join(', ');
      lines.push(`  learns: ${learned === '' ? 'nothing' : `${learned} under ${row.name}`}`);
      for (const n of row.notes) if (!n.includes('stands for')) lines.push(`  ${n}`);
    }
  }

  lines.push('', report.conflicts.length === 0 ? 'CONFLICTS: none' : `CONFLICTS (${report.conflicts.length})`);
  for (const c of report.conflicts) {
    lines.push(`- ${c.kind}${c.name ? ` ${c.name}` : ''}: ${c.detail}`);
    if (c.policy) lines.push(`    policy:   ${c.policy}`);
    if (c.firewall) lines.push(`    firewall: ${c.firewall}`);
    if (c.subjects.length > 0) lines.push(`    subjects: ${c.subjects.join(', ')}`);
  }
  if (report.notes.length > 0) {
    lines.push('', 'NOTES');
    for (const n of report.notes) lines.push(`- ${n}`);
  }
  return `${lines.join('\n')}\n`;
}
