// Pod selections (namespace scope AND pod selector) interned by content: every peer that says the
// same thing shares one member set, computed once by scanning only the namespaces in scope and
// kept current one pod change at a time. Members are pod keys (a pod's entry object is replaced
// on every update; its key is not).
import type { PodEntry } from '../policy/cluster-index.js';
import type { PodSelection } from '../policy/model.js';
import { formatSelector, selectorMatches } from '../policy/selector.js';
import type { ClusterView } from './cluster-view.js';

export function selects(sel: PodSelection, pod: PodEntry): boolean {
  const nsOk = sel.namespaces.kind === 'same' ? pod.namespace === sel.namespaces.namespace : selectorMatches(sel.namespaces.selector, pod.namespaceLabels);
  return nsOk && selectorMatches(sel.podSelector, pod.labels);
}

export function selectionKey(sel: PodSelection): string {
  const scope = sel.namespaces.kind === 'same' ? `ns=${sel.namespaces.namespace}` : `nsSel=${formatSelector(sel.namespaces.selector)}`;
  return `${scope}|${formatSelector(sel.podSelector)}`;
}

/** The non-host-network pods a selection picks as peers. */
export class Selection {
  readonly members = new Set<string>();
  /** How many rule variants use it; dropped at zero. */
  users = 0;

  constructor(
    readonly key: string,
    readonly sel: PodSelection,
  ) {}
}

export class SelectionIndex {
  private readonly byKey = new Map<string, Selection>();
  /** Selections scoped to one namespace, by namespace; the rest can pick pods anywhere. */
  private readonly sameNamespace = new Map<string, Set<Selection>>();
  private readonly anyNamespace = new Set<Selection>();

  constructor(private readonly view: ClusterView) {}

  acquire(sel: PodSelection): Selection {
    const key = selectionKey(sel);
    let s = this.byKey.get(key);
    if (!s) {
      s = new Selection(key, sel);
      this.fill(s);
      this.byKey.set(key, s);
      if (sel.namespaces.kind === 'same') {
        let set = this.sameNamespace.get(sel.namespaces.namespace);
        if (!set) this.sameNamespace.set(sel.namespaces.namespace, (set = new Set()));
        set.add(s);
      } else this.anyNamespace.add(s);
    }
    s.users++;
    return s;
  }

  release(s: Selection): void {
    if (--s.users > 0 || this.byKey.get(s.key) !== s) return;
    this.byKey.delete(s.key);
    this.anyNamespace.delete(s);
    if (s.sel.namespaces.kind === 'same') {
      const set = this.sameNamespace.get(s.sel.namespaces.namespace);
      set?.delete(s);
      if (set?.size === 0) this.sameNamespace.delete(s.sel.namespaces.namespace);
    }
  }

  private fill(s: Selection): void {
    const scope = s.sel.namespaces;
    // Namespaces that hold pods, with or without a Namespace object (then default labels apply).
    const namespaces = scope.kind === 'same' ? [scope.namespace] : [...this.view.podNamespaces()].filter((n) => selectorMatches(scope.selector, this.view.namespaceLabels(n)));
    for (const ns of namespaces) {
      for (const pod of this.view.podsIn(ns)) if (!pod.hostNetwork && selects(s.sel, pod)) s.members.add(pod.key);
    }
  }

  /** The selections a pod is a member of. */
  containing(key: string): Selection[] {
    return [...this.byKey.values()].filter((s) => s.members.has(key));
  }

  /** Keeps every selection current; returns those that held or now hold the pod's key. */
  podChanged(removed: PodEntry | undefined, added: PodEntry | undefined): Selection[] {
    const out: Selection[] = [];
    const candidates = [...this.anyNamespace];
    for (const p of [removed, added]) if (p) candidates.push(...(this.sameNamespace.get(p.namespace) ?? []));
    for (const s of new Set(candidates)) {
      let hit = false;
      if (removed && s.members.delete(removed.key)) hit = true;
      if (added && !added.hostNetwork && selects(s.sel, added)) {
        s.members.add(added.key);
        hit = true;
      }
      if (hit) out.push(s);
    }
    return out;
  }
}
