import { z } from 'zod';
import { componentLabel } from '../names.js';
import { secretRef } from '../secretRef.js';

/**
 * What a webhook can be told. `failed`: any runbook failed (a failed restore drill included);
 * `inconclusive`: a drill that could not finish, a canary paused for lack of data;
 * `rolled-back`: a canary or deploy rolled back; `approval`: a DR run waits for `ragops dr
 * approve`; `dr-result`: a recovery or DR drill finished, with its RTO and RPO.
 */
export const NOTIFY_EVENTS = ['failed', 'inconclusive', 'rolled-back', 'approval', 'dr-result'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export const webhookSchema = z
  .object({
    name: componentLabel,
    /** `generic`: a JSON body of the event's fields; `slack`: Slack's incoming-webhook `{text, blocks}`. */
    type: z.enum(['generic', 'slack']).default('generic'),
    /** The whole URL is a secret (Slack's carries its token in the path): only read by the delivering activity. */
    url: secretRef,
    /** The events sent here; absent: all of them. */
    on: z.array(z.enum(NOTIFY_EVENTS)).min(1).optional(),
    timeoutSeconds: z.number().positive().max(60).default(10),
  })
  .strict();
export type Webhook = z.infer<typeof webhookSchema>;

/** Where a stack's runbooks report failures, inconclusive results, approvals waited for and DR results. */
export const notifySchema = z
  .object({ webhooks: z.array(webhookSchema).min(1) })
  .strict()
  .superRefine((notify, ctx) => {
    const seen = new Set<string>();
    notify.webhooks.forEach((webhook, index) => {
      if (seen.has(webhook.name)) ctx.addIssue({ code: 'custom', path: ['webhooks', index, 'name'], message: `duplicate webhook "${webhook.name}"` });
      seen.add(webhook.name);
    });
  });
export type NotifyConfig = z.infer<typeof notifySchema>;

/** A plan that carries its stack's `notify` section (references only), so the run knows whom to tell without another activity. */
export interface WithNotify {
  /** Absent when the stack has no `notify` section, and in plans recorded before notifications existed. */
  notify?: NotifyConfig;
}

/** The plan field for a stack: present only when the stack has a `notify` section. */
export function notifyOf(stack: { notify?: NotifyConfig }): WithNotify {
  return stack.notify ? { notify: stack.notify } : {};
}
