// Credentials for the stand-in the way a real agent gets them: a kubeconfig (object or file), or a
// service account directory for in-cluster config.
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

/** client-node refuses plain HTTP unless TLS verification is off, so the stand-in speaks HTTPS. */
export function kubeConfigFor(server: string, caPem: string, token?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stand-in', server, caData: Buffer.from(caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'agent', token }],
    contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'agent' }],
    currentContext: 'stand-in',
  });
  return kc;
}

/** A kubeconfig file with the CA inline and a bearer token. */
export function writeKubeconfigFile(dir: string, server: string, token: string, caPem?: string): string {
  const path = join(dir, 'kubeconfig');
  const ca = caPem ? `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}\n` : '';
  writeFileSync(
    path,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${server}\n${ca}users:\n- name: u\n  user:\n    token: ${token}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n`,
  );
  return path;
}

/** The service account files loadFromCluster(prefix) reads. */
export function writeServiceAccount(prefix: string, token: string, caPem: string, namespace = 'dnsgate-system'): void {
  const dir = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(join(dir, 'ca.crt'), caPem);
  writeFileSync(join(dir, 'namespace'), namespace);
}

let cached: { cert: string; key: string } | undefined;

/** One self-signed certificate per test process. */
export function testCert(): { cert: string; key: string } {
  cached ??= selfSignedCert(mkdtempSync(join(tmpdir(), 'dnsgate-kube-tls-')));
  return cached;
}

/** A self-signed certificate for 127.0.0.1 (openssl), used both as server cert and CA. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}
