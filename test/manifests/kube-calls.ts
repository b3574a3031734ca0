// Finds every Kubernetes API call in dnsgate's source (TypeScript AST, not text search) and says
// which verb it needs on which resource, so the RBAC test compares the ClusterRole and Role with
// what the code really does. Recognised call shapes:
//   - `<x>.request('GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path, ...)` (KubeHttp),
//   - `<watch>.watch(path, query, onEvent, onDone)` (client-node's Watch),
//   - client-node's typed API methods (`listNamespacedPod`, `patchNamespacedEventWithHttpInfo`,
//     `replaceClusterCustomObjectStatus`, ...).
// A `.request(...)` whose method is not a literal is reported as unclassifiable, so no call escapes.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './manifest-files.js';

export interface KubeCall {
  /** Source file relative to the repository root. */
  file: string;
  line: number;
  /** HTTP method, 'WATCH', a client-node API method name, or '?' when the method is not a literal. */
  method: string;
  /** The path argument's source text, an identifier replaced by its initializer; '' for typed API calls. */
  path: string;
  /** The local helper's URL when `path` calls one defined in the same file (`this.path(...)`). */
  helperUrls: string[];
}

const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** client-node's generated API method names (CoreV1Api, CustomObjectsApi, ...). */
export const TYPED_API_METHOD = /^(list|read|create|replace|patch|deleteCollection|delete|watch)(Namespaced|Cluster)?[A-Z]\w*$/;

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** URL literals (`/api/...`, `/apis/...`) in a file, for helpers that build paths. */
function urlLiterals(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) && /^\/apis?\//.test(n.text)) out.push(n.getText(sf));
    else if (ts.isTemplateExpression(n) && /^\/apis?\//.test(n.head.text)) out.push(n.getText(sf));
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function initializerOf(sf: ts.SourceFile, name: string): string | undefined {
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer) found.push(n.initializer.getText(sf));
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found.length === 1 ? found[0] : undefined;
}

/** The calls in one source text (exported so the scanner itself is tested on snippets). */
export function scanSource(text: string, file: string): KubeCall[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const importsWatch = /import\s*\{[^}]*\bWatch\b[^}]*\}\s*from\s*'@kubernetes\/client-node'/.test(text);
  // Typed API clients come from makeApiClient(CoreV1Api) and the like.
  const usesTypedApi = /\bmakeApiClient\b|\b(Core|Apps|Networking|Discovery|Coordination|Events|CustomObjects)\w*Api\b/.test(text);
  const calls: KubeCall[] = [];
  const pathOf = (arg: ts.Expression | undefined): { path: string; helperUrls: string[] } => {
    if (!arg) return { path: '', helperUrls: [] };
    let path = squash(arg.getText(sf));
    if (ts.isIdentifier(arg)) path = squash(initializerOf(sf, arg.text) ?? path);
    const helper = /^(this\.)?([A-Za-z_]\w*)\(/.exec(path);
    const isLocalHelper = helper !== null && (helper[1] !== undefined || !/^(collectionPath|objectPath)$/.test(helper[2]!));
    return { path, helperUrls: isLocalHelper ? urlLiterals(sf).map(squash) : [] };
  };
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
      const name = n.expression.name.text;
      const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
      const [first, second] = n.arguments;
      if (name === 'request') {
        const method = first && ts.isStringLiteralLike(first) && HTTP_METHODS.has(first.text) ? first.text : '?';
        calls.push({ file, line, method, ...pathOf(second) });
      } else if (name === 'watch' && importsWatch && n.arguments.length >= 3) {
        calls.push({ file, line, method: 'WATCH', ...pathOf(first) });
      } else if (usesTypedApi && TYPED_API_METHOD.test(name.replace(/WithHttpInfo$/, ''))) {
        calls.push({ file, line, method: name, path: '', helperUrls: [] });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return calls;
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return tsFilesUnder(path);
      return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
    });
}

/**
 * Every Kubernetes API call under src/: in each file that uses client-node or dnsgate's KubeHttp.
 * `transport` files (KubeHttp itself, which sends whatever it is given) are skipped.
 */
export function scanKubeCalls(transport: readonly string[]): KubeCall[] {
  return tsFilesUnder(join(REPO_ROOT, 'src'))
    .map((p) => ({ file: relative(REPO_ROOT, p), text: readFileSync(p, 'utf8') }))
    .filter(({ file, text }) => !transport.includes(file) && /@kubernetes\/client-node|\bKubeHttp\b/.test(text))
    .flatMap(({ file, text }) => scanSource(text, file));
}

export type PathShape =
  | { shape: 'collection' | 'object'; group: string; resource: string; subresource?: string }
  | { shape: 'collection-helper' | 'object-helper'; subresource?: string }
  | { shape: 'unknown' };

/** "/api/v1/namespaces/${ns}/events" -> core events, collection. */
export function parseUrl(url: string): PathShape {
  const segs = url.replace(/^`|`$|^'|'$/g, '').replace(/\$\{[^}]*\}/g, '*').split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (segs[0] === 'api' && segs.length >= 2) {
    group = '';
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 3) {
    group = segs[1]!;
    rest = segs.slice(3);
  } else return { shape: 'unknown' };
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource, name, subresource] = rest;
  if (!resource || resource === '*' || rest.length > 3) return { shape: 'unknown' };
  return { shape: name === undefined ? 'collection' : 'object', group, resource, ...(subresource ? { subresource } : {}) };
}

/** What a call's path designates, as far as the source says. */
export function pathShape(call: KubeCall): PathShape {
  const p = call.path;
  if (/^[`']\/apis?\//.test(p)) return parseUrl(p);
  const coll = /^collectionPath\([^,()]+\)$/.exec(p);
  if (coll) return { shape: 'collection-helper' };
  const obj = /^objectPath\(([^()]*)\)$/.exec(p);
  if (obj) {
    const args = obj[1]!.split(',').map((a) => a.trim());
    const sub = args[3] !== undefined ? /^'([a-z]+)'$/.exec(args[3]) : null;
    if (args[3] !== undefined && !sub) return { shape: 'unknown' };
    return { shape: 'object-helper', ...(sub ? { subresource: sub[1] } : {}) };
  }
  const local = /^(?:this\.)?\w+\(([^()]*(?:\([^()]*\))?[^()]*)\)$/.exec(p);
  if (local && call.helperUrls.length > 0) {
    // A file-local path helper: its URL literals must name one resource; arguments make it an object.
    const shapes = call.helperUrls.map(parseUrl);
    const first = shapes[0]!;
    if (first.shape !== 'collection' && first.shape !== 'object') return { shape: 'unknown' };
    if (shapes.some((s) => s.shape === 'unknown' || !('group' in s) || s.group !== first.group || s.resource !== first.resource)) return { shape: 'unknown' };
    return { shape: local[1]!.trim() === '' ? 'collection' : 'object', group: first.group, resource: first.resource };
  }
  return { shape: 'unknown' };
}

/** The RBAC verb of an HTTP method (or watch) on a collection or one object; undefined if none. */
export function verbOf(method: string, shape: 'collection' | 'object'): string | undefined {
  switch (method) {
    case 'WATCH':
      return 'watch';
    case 'GET':
      return shape === 'collection' ? 'list' : 'get';
    case 'POST':
      return shape === 'collection' ? 'create' : undefined;
    case 'PUT':
      return shape === 'object' ? 'update' : undefined;
    case 'PATCH':
      return shape === 'object' ? 'patch' : undefined;
    case 'DELETE':
      return shape === 'collection' ? 'deletecollection' : 'delete';
    default:
      return undefined;
  }
}

/** The RBAC verb of a client-node typed API method name. */
export function typedApiVerb(method: string): string | undefined {
  const m = TYPED_API_METHOD.exec(method.replace(/WithHttpInfo$/, ''));
  if (!m) return undefined;
  const verbs: Record<string, string> = { list: 'list', read: 'get', create: 'create', replace: 'update', patch: 'patch', delete: 'delete', deleteCollection: 'deletecollection', watch: 'watch' };
  return verbs[m[1]!];
}
