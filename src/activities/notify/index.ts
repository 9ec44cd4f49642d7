import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { resolveSecret } from '../../config/secrets.js';
import type { Webhook } from '../../config/stacks/notify.js';
import type { Notice } from '../../core/notify.js';
import { workflowUiUrl } from '../../core/webUi.js';
import { deliverNotice, type Delivery } from './deliver.js';

export type { Delivery } from './deliver.js';

/** Sending a run's notices to its stack's webhooks; the URL is read here, never recorded. */
export function createNotifyActivities(deps: { uiUrl?: string } = {}) {
  return {
    async sendNotice({ webhook, notice }: { webhook: Webhook; notice: Notice }): Promise<Delivery> {
      const context = Context.current();
      let url: string;
      try {
        url = await resolveSecret(webhook.url);
      } catch (error) {
        throw ApplicationFailure.nonRetryable(`webhook "${webhook.name}": ${(error as Error).message}`, 'ConfigError');
      }
      // Only with a configured UI base: the dev server's default means nothing to a chat room.
      const webUiUrl = deps.uiUrl ? workflowUiUrl(deps.uiUrl, context.info.namespace, notice.workflowId, notice.runId) : undefined;
      return deliverNotice(webhook, url, notice, { signal: context.cancellationSignal, ...(webUiUrl ? { webUiUrl } : {}) });
    },
  };
}
