// A kubeconfig for the stand-in: one cluster (its HTTPS address, trusting the stand-in's own
// certificate), one user with a bearer token, and one context (also the current one) whose
// namespace is `default`. HTTPS because kubectl sends no credentials to an http:// server.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';

export async function writeKubeconfig(dir: string, opts: { server: string; caCert: string; token: string; context: string }): Promise<string> {
  const { server, caCert, token, context } = opts;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name: context, cluster: { server, 'certificate-authority-data': Buffer.from(caCert).toString('base64') } }],
    users: [{ name: `${context}-user`, user: { token } }],
    contexts: [{ name: context, context: { cluster: context, user: `${context}-user`, namespace: 'default' } }],
    'current-context': context,
  };
  const path = join(dir, 'kubeconfig');
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}
