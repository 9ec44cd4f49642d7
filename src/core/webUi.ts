/** Link to a run in the Temporal Web UI, from a base such as RAGOPS_UI_URL (default the dev server's http://localhost:8233). */
export function workflowUiUrl(base: string | undefined, namespace: string, workflowId: string, runId?: string): string {
  const root = (base ?? 'http://localhost:8233').replace(/\/$/, '');
  const path = `${root}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${path}/${encodeURIComponent(runId)}` : path;
}

/**
 * Status cells of the current details, readable without an emoji font (a server's browser, a
 * terminal, a screen reader): the word says it, the emoji only helps the eye.
 */
export const STEP_STATUS_CELL = { running: '⏳ running', done: '✅ done', failed: '❌ failed' } as const;
export const CANARY_STEP_CELL = { done: '✅ done', active: '▶ active', pending: '' } as const;
