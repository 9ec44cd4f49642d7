import { ApplicationFailure } from '@temporalio/common';
import { QUERY_PLACEHOLDERS, type QueryPlaceholder } from '../../config/stacks/metrics.js';
import type { MetricContext } from './types.js';

/**
 * Values that may go into a PromQL query: label values, version tags, digests
 * (`registry/api@sha256:…`), durations. No quotes, braces, backslashes, spaces or commas, so a
 * value can neither close a label matcher nor add one.
 */
export const SAFE_QUERY_VALUE = /^[A-Za-z0-9_.:/@-]{1,256}$/;
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/**
 * The query with `{{service}}`, `{{canary}}`, `{{stable}}` and `{{interval}}` replaced. A value
 * outside SAFE_QUERY_VALUE, or an unknown placeholder, is refused (InvalidInput, not retried):
 * it would change what the query means rather than which series it reads.
 */
export function renderQuery(template: string, context: MetricContext): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (!(QUERY_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw ApplicationFailure.nonRetryable(`unknown placeholder ${whole} in the query ${template}`, 'InvalidInput');
    }
    const value = context[name as QueryPlaceholder];
    if (typeof value !== 'string' || !SAFE_QUERY_VALUE.test(value)) {
      throw ApplicationFailure.nonRetryable(
        `{{${name}}} cannot be put into a Prometheus query: ${JSON.stringify(String(value).slice(0, 80))} holds characters other than letters, digits and _.:/@-`,
        'InvalidInput',
      );
    }
    return value;
  });
}
