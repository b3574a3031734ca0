// Failures talking to the Kubernetes API, with what was asked and what the server said.

/** A request the API server answered with a non-2xx status, or that could not complete. */
export class KubeApiError extends Error {
  readonly method: string;
  readonly path: string;
  /** HTTP status; 0 when the request failed before a response (connection refused, reset, TLS). */
  readonly statusCode: number;
  /** `Status.reason` from the body when the server sent one (NotFound, Conflict, Expired, ...). */
  readonly reason?: string;

  constructor(method: string, path: string, statusCode: number, detail: string, reason?: string) {
    super(`${method} ${path}: ${statusCode === 0 ? 'request failed' : `HTTP ${statusCode}`}${reason ? ` ${reason}` : ''}: ${detail}`);
    this.name = 'KubeApiError';
    this.method = method;
    this.path = path;
    this.statusCode = statusCode;
    if (reason !== undefined) this.reason = reason;
  }
}

/** A list or watch body that is not what the API server protocol promises. */
export class KubeProtocolError extends Error {
  readonly path: string;
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'KubeProtocolError';
    this.path = path;
  }
}

/** 410 Gone: the resourceVersion a watch or list asked for was compacted away; relist. */
export function isGone(err: unknown): boolean {
  const e = err as { statusCode?: unknown; code?: unknown } | null;
  return e !== null && typeof e === 'object' && (e.statusCode === 410 || e.code === 410);
}
