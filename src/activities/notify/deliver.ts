import { ApplicationFailure } from '@temporalio/common';
import type { Webhook } from '../../config/stacks/notify.js';
import { renderNotice, scrubNotice, secretPartsOfUrl, type Notice } from '../../core/notify.js';
import { scrubSecrets } from '../../core/redact.js';

/** How much of a refusing receiver's answer is quoted in the error (Slack says e.g. `invalid_token`). */
const ANSWER_QUOTED = 200;

export interface Delivery {
  webhook: string;
  status: number;
}

/**
 * POSTs `notice` to the webhook at `url`. Errors name the webhook, never its URL: a Slack
 * URL's token is in its path, which URL redaction keeps. A 4xx other than 408 and 429 will be
 * refused again (WebhookRejected, not retried); 5xx, 408, 429 and network faults are retried.
 */
export async function deliverNotice(webhook: Webhook, url: string, notice: Notice, options: { signal: AbortSignal; webUiUrl?: string }): Promise<Delivery> {
  const secrets = secretPartsOfUrl(url);
  const body = renderNotice(webhook.type, scrubNotice(notice, secrets), options.webUiUrl);
  const where = `webhook "${webhook.name}"`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'ragops' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(webhook.timeoutSeconds * 1000)]),
    });
  } catch (error) {
    if (options.signal.aborted) throw error;
    throw ApplicationFailure.retryable(`${where} did not answer: ${networkCause(error, webhook.timeoutSeconds)}`, 'WebhookUnavailable');
  }
  const answer = scrubSecrets(await response.text().catch(() => ''), secrets).replace(/\s+/g, ' ').trim().slice(0, ANSWER_QUOTED);
  if (response.ok) return { webhook: webhook.name, status: response.status };
  const said = `${where} answered HTTP ${response.status}${answer ? `: ${answer}` : ''}`;
  if (response.status >= 500 || response.status === 408 || response.status === 429) throw ApplicationFailure.retryable(said, 'WebhookUnavailable');
  throw ApplicationFailure.nonRetryable(`${said}${response.status < 400 ? ' (a redirect: give the final URL)' : ''}; check its URL and the receiver`, 'WebhookRejected');
}

/** A fetch failure's cause by its code, never its text (which can quote the URL). */
function networkCause(error: unknown, timeoutSeconds: number): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return `no answer within ${timeoutSeconds} s`;
  const cause = (error as { cause?: { code?: unknown; errors?: Array<{ code?: unknown }> } }).cause;
  // A host with several addresses fails with an AggregateError of one error per address.
  const code = [cause?.code, cause?.errors?.[0]?.code].find((candidate) => typeof candidate === 'string');
  return code ? `connection failed (${code})` : 'connection failed';
}
