// Standalone mode's ClusterSource: cluster state and policies from manifest files and directories,
// re-read when they change. Change detection is fs.watch (debounced) plus a periodic poll that
// compares a stat fingerprint, so editors' rename-on-save, files appearing and disappearing,
// replaced directories and events inotify coalesces or misses all end in a reload.
//
// Invalid objects: the loader leaves an invalid object out whole (SEMANTICS.md, issue 7: a policy
// is never enforced partially). When an object that was valid becomes invalid, its previous
// version is NOT kept: it disappears from the snapshot (a `delete` change) and an extra error
// problem says so, naming the object, for as long as the object stays invalid or missing.
import { loadManifests, type Problem } from '../../api/load.js';
import { emptyClusterState, type ClusterState } from '../../api/types.js';
import type { ClusterSource, ObjectChange, StateChange } from '../types.js';
import { canonicalJson, diffStates } from './diff.js';
import { FileSourceError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { PathWatchers } from './watchers.js';
import { SerialRunner } from '../serial-runner.js';

export interface FileSourceOptions {
  /** Manifest files and directories (directories recursively: *.yaml, *.yml, *.json). */
  paths: readonly string[];
  /** Quiet time after a file event before reloading (default 100 ms): editors write in bursts. */
  debounceMs?: number;
  /** Fallback poll interval (default 2000 ms); 0 disables polling (fs.watch only). */
  pollIntervalMs?: number;
  /** Turns fs.watch off (poll only), for filesystems where inotify does not work (NFS, some FUSE). */
  watch?: boolean;
  /** Unexpected failures of a reload (the previous snapshot stays in force). */
  onError?: (error: FileSourceError) => void;
}

const DROPPED = 'its previous version is not kept';

export class FileSource implements ClusterSource {
  private state: ClusterState = emptyClusterState();
  private currentProblems: readonly Problem[] = [];
  private readonly listeners = new Set<(change: StateChange) => void>();
  private readonly watchers: PathWatchers | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private readonly runner = new SerialRunner(() => this.reloadOnce(), () => this.stopped);
  private lastPrint = '';
  private started = false;
  private stopped = false;
  private reloads = 0;
  /** Objects removed because they became invalid, still reported until they are valid or gone. */
  private readonly droppedInvalid = new Set<string>();

  constructor(private readonly options: FileSourceOptions) {
    if (options.paths.length === 0) throw new FileSourceError('the file source needs at least one path', options.paths);
    this.watchers = options.watch === false ? undefined : new PathWatchers(options.paths, () => this.schedule());
  }

  get synced(): boolean {
    return this.reloads > 0;
  }

  /** How many reloads have run (diagnostics; tests use it to tell "no change" from "not looked"). */
  get reloadCount(): number {
    return this.reloads;
  }

  snapshot(): ClusterState {
    return this.state;
  }

  problems(): readonly Problem[] {
    return this.currentProblems;
  }

  onChange(listener: (change: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.started) throw new FileSourceError('start() called twice', this.options.paths);
    this.started = true;
    await this.watchers?.ensure();
    await this.reload();
    const every = this.options.pollIntervalMs ?? 2000;
    if (every > 0) {
      this.poll = setInterval(() => void this.pollTick(), every);
      this.poll.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.poll) clearInterval(this.poll);
    this.watchers?.close();
    await this.runner.current;
  }

  /** Reloads now (after any reload in progress) and resolves when the result is applied. */
  async refresh(): Promise<void> {
    await this.reload();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.reload();
    }, this.options.debounceMs ?? 100);
    this.debounce.unref();
  }

  private async pollTick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.watchers?.ensure();
      if ((await fingerprint(this.options.paths)) !== this.lastPrint) this.schedule();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Serialised: a reload requested while one runs is folded into one more run after it. */
  private reload(): Promise<void> {
    return this.runner.run();
  }

  private async reloadOnce(): Promise<void> {
    try {
      // Fingerprint first: a write that lands during the load changes it again and is polled.
      this.lastPrint = await fingerprint(this.options.paths);
      const { state, problems } = await loadManifests([...this.options.paths]);
      if (this.stopped) return;
      const changes = diffStates(this.state, state);
      const all = [...problems, ...this.droppedProblems(changes, problems, state)];
      const first = this.reloads === 0;
      this.reloads++;
      const problemsChanged = canonicalJson(all) !== canonicalJson(this.currentProblems);
      this.state = state;
      this.currentProblems = all;
      if (first || changes.length > 0 || problemsChanged) this.emit({ state, changes, problems: all });
      void (await this.watchers?.ensure());
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Loud reports for objects that left the snapshot while manifests have errors: the object is
   * most likely still in a file but invalid now, and nothing of it is enforced.
   */
  private droppedProblems(changes: readonly ObjectChange[], problems: readonly Problem[], next: ClusterState): Problem[] {
    const errorRefs = new Set(problems.filter((p) => p.severity === 'error' && p.ref !== undefined).map((p) => p.ref));
    const anonymousErrors = problems.some((p) => p.severity === 'error' && p.ref === undefined);
    for (const c of changes) {
      if (c.op === 'delete' && (errorRefs.has(c.ref) || anonymousErrors)) this.droppedInvalid.add(c.ref);
    }
    const present = new Set(diffStates(emptyClusterState(), next).map((c) => c.ref));
    const out: Problem[] = [];
    for (const ref of [...this.droppedInvalid]) {
      // Valid again (present), or its errors are gone while it is still absent (deleted for real).
      if (present.has(ref) || (!errorRefs.has(ref) && !anonymousErrors)) {
        this.droppedInvalid.delete(ref);
        continue;
      }
      out.push({
        severity: 'error',
        source: this.options.paths.join(','),
        ref,
        message: errorRefs.has(ref)
          ? `${ref} is invalid now and is not enforced at all; ${DROPPED} (fix the errors reported for it)`
          : `${ref} disappeared while manifests have errors: if it is still in a file it is invalid now and not enforced; ${DROPPED}`,
      });
    }
    return out;
  }

  private emit(change: StateChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (e) {
        // One failing consumer must not stop the others from seeing the change.
        this.fail(e);
      }
    }
  }

  private fail(e: unknown): void {
    const err = e instanceof FileSourceError ? e : new FileSourceError(`reload failed: ${(e as Error).message ?? String(e)}`, this.options.paths, { cause: e });
    this.options.onError?.(err);
  }
}
