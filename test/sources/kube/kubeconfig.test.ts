// The credentials an agent can run with: in-cluster service account and a kubeconfig file, both
// over TLS with a bearer token the stand-in checks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClusterSource, KubeConfigError, loadKubeConfig, type KubeConfigSource } from '../../../src/sources/kube/index.js';
import { testCert, writeKubeconfigFile, writeServiceAccount } from '../../support/kube-apiserver/client-config.js';
import * as fx from '../../support/kube-apiserver/fixtures.js';
import { KubeApiStandIn } from '../../support/kube-apiserver/server.js';
import { FAST, waitFor } from './helpers.js';

let api: KubeApiStandIn | undefined;
let dir: string | undefined;
const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };

afterEach(async () => {
  await api?.stop();
  api = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

async function setup(): Promise<{ url: string; port: string }> {
  dir = mkdtempSync(join(tmpdir(), 'dnsgate-kubeconfig-'));
  api = new KubeApiStandIn({ tls: testCert(), tokens: { 'sa-token': 'system:serviceaccount:dnsgate-system:dnsgate' } });
  const url = await api.start();
  api.apply(fx.namespace('a'));
  api.apply(fx.pod('a', 'p', '10.0.0.1'));
  return { url, port: new URL(url).port };
}

describe('credentials', () => {
  it.each<[string, (url: string, port: string) => KubeConfigSource]>([
    [
      'in-cluster (service account token and CA)',
      (_url, port) => {
        process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
        process.env.KUBERNETES_SERVICE_PORT = port;
        writeServiceAccount(dir!, 'sa-token', testCert().cert);
        return { mode: 'in-cluster', pathPrefix: dir };
      },
    ],
    ['kubeconfig file', (url) => ({ mode: 'file', path: writeKubeconfigFile(dir!, url, 'sa-token', testCert().cert) })],
  ])('%s: syncs with the token checked by the server', async (_name, make) => {
    const { url, port } = await setup();
    const source = new KubeClusterSource({ kubeConfig: loadKubeConfig(make(url, port)), ...FAST });
    try {
      await source.start();
      expect(source.snapshot().pods.map((p) => p.metadata.name)).toEqual(['p']);
      expect(api!.requests.every((q) => q.user === 'system:serviceaccount:dnsgate-system:dnsgate')).toBe(true);
    } finally {
      await source.stop();
    }
  });

  it('a wrong token is retried with backoff, never synced', async () => {
    const { url } = await setup();
    const kc = loadKubeConfig({ mode: 'file', path: writeKubeconfigFile(dir!, url, 'wrong', testCert().cert) });
    const errors: number[] = [];
    const source = new KubeClusterSource({ kubeConfig: kc, ...FAST, logger: { info: () => {}, error: () => {}, warn: (o) => errors.push((o as { retryInMs: number }).retryInMs) } });
    const started = source.start().then(
      () => 'synced',
      (e: Error) => e.name,
    );
    await waitFor('retries', () => errors.length >= 27, 5000);
    expect(source.synced).toBe(false);
    expect(errors.every((ms) => ms >= FAST.backoff.initialMs / 2 && ms <= FAST.backoff.maxMs)).toBe(true);
    expect(api!.requests.every((q) => q.status === 401)).toBe(true);
    await source.stop();
    expect(await started).toBe('KubeSourceStoppedError');
  });

  it('in-cluster outside a pod is a typed error', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    expect(() => loadKubeConfig({ mode: 'in-cluster' })).toThrow(KubeConfigError);
  });
});
