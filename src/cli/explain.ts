// `dnsgate explain`: why each flow is allowed or denied, from the reference evaluator.
import { loadManifests } from '../api/load.js';
import { Evaluator, FlowError, type DirectionVerdict, type Flow, type FlowVerdict } from '../policy/index.js';
import { readFile } from 'node:fs/promises';
import { InputError } from './errors.js';
import { parseFlows } from './flows-file.js';
import { formatProblem, refuseOnErrors } from './problems.js';
import { renderTable } from './table.js';
import type { CommandOutput } from './output.js';

export interface ExplainOptions {
  files: string[];
  flows: string;
  output: 'json' | 'table';
  mode: 'standard' | 'strict';
  at: number;
}

/** The JSON shape of one explained flow (`-o json`): the flow's own fields plus the verdicts. */
export interface ExplainedFlow extends Flow {
  verdict: FlowVerdict['verdict'];
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
}

export async function runExplain(opts: ExplainOptions): Promise<CommandOutput> {
  const { state, problems } = await loadManifests(opts.files);
  refuseOnErrors(problems);
  const flows = parseFlows(await readFileOrThrow(opts.flows), opts.flows);
  const evaluator = new Evaluator(state);
  // A flow's `fqdn` is learning by its `from` pod at `--at` time with the default TTL; the evaluator
  // applies it to that flow only, so one file can compare "after a lookup" with "the same IP
  // without one". Nothing else is learned.

  const results: ExplainedFlow[] = [];
  const unknown: string[] = [];
  flows.forEach((flow, index) => {
    try {
      const v = evaluator.evaluate(flow, { mode: opts.mode, now: opts.at, learned: [] });
      results.push({ ...flow, verdict: v.verdict, egress: v.egress, ingress: v.ingress });
    } catch (err) {
      if (err instanceof FlowError) unknown.push(`${opts.flows}[${index}]: ${err.message}`);
      else throw err;
    }
  });
  if (unknown.length > 0) {
    throw new InputError(`${unknown.length} flow(s) cannot be evaluated against these manifests; nothing was evaluated`, unknown);
  }

  const warnings = problems.filter((p) => p.severity === 'warning').map(formatProblem);
  const stdout = opts.output === 'json' ? JSON.stringify(results, null, 2) + '\n' : explainTable(results);
  return { exitCode: 0, stdout, stderr: warnings.map((w) => w + '\n').join('') };
}

function explainTable(results: readonly ExplainedFlow[]): string {
  const dir = (d: DirectionVerdict): string =>
    d.policy === null ? `${d.verdict} (${d.tier})` : `${d.verdict} (${d.tier} ${d.policy}${d.rule === null ? '' : ` rule ${d.rule}`})`;
  const rows = results.map((r) => [
    r.from,
    r.fqdn === undefined ? r.to : `${r.to} (${r.fqdn})`,
    r.port === undefined ? r.protocol : `${r.protocol}/${r.port}`,
    r.verdict.toUpperCase(),
    dir(r.egress),
    dir(r.ingress),
  ]);
  return renderTable(['FROM', 'TO', 'PROTO', 'VERDICT', 'EGRESS', 'INGRESS'], rows);
}

async function readFileOrThrow(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new InputError(`--flows ${path}: cannot read (${code})`);
  }
}
