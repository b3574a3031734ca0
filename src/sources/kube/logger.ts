// The slice of a pino logger the Kubernetes source uses; the agent passes its pino instance.
export interface KubeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: KubeLogger = { info: () => {}, warn: () => {}, error: () => {} };
