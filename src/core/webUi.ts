/** Link to a run in the Temporal Web UI, from a base such as RAGOPS_UI_URL (default the dev server's http://localhost:8233). */
export function workflowUiUrl(base: string | undefined, namespace: string, workflowId: string, runId?: string): string {
  const root = (base ?? 'http://localhost:8233').replace(/\/$/, '');
  const path = `${root}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${path}/${encodeURIComponent(runId)}` : path;
}
