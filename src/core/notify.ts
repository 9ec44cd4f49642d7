import type { NotifyConfig, NotifyEvent, Webhook } from '../config/stacks/notify.js';
import { redactUrls, scrubSecrets } from './redact.js';

export type NoticeDetails = Record<string, string | number | boolean>;

/** One thing a run tells its stack's webhooks; built in the workflow, so it holds no secret value. */
export interface Notice {
  event: NotifyEvent;
  stack: string;
  runbook: string;
  workflowId: string;
  runId: string;
  /** One line: what happened. */
  summary: string;
  details: NoticeDetails;
}

/** The generic webhook's JSON body. */
export interface GenericBody extends Notice {
  webUiUrl?: string;
}

/** Slack's incoming-webhook body: `text` is the fallback every client shows; `blocks` the layout. */
export interface SlackBody {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

const MAX_SUMMARY = 1_000;
const MAX_DETAIL = 1_500;
/** Slack shows at most 10 fields in a section, each up to 2,000 characters. */
const MAX_SLACK_FIELDS = 10;

/** Words, not emoji: a title readable in any font and any client. */
const TITLES: Record<NotifyEvent, string> = {
  failed: 'FAILED',
  inconclusive: 'INCONCLUSIVE',
  'rolled-back': 'ROLLED BACK',
  approval: 'WAITING FOR APPROVAL',
  'dr-result': 'DR RESULT',
};

/** The webhooks that want `event` (all of them when a webhook names no events). */
export function webhooksFor(notify: NotifyConfig | undefined, event: NotifyEvent): Webhook[] {
  return (notify?.webhooks ?? []).filter((webhook) => webhook.on === undefined || webhook.on.includes(event));
}

/** The command that answers a disasterRecovery run's `approve` update. */
export function drApproveCommand(workflowId: string): string {
  return `ragops dr approve ${workflowId}`;
}

/** The command that answers a reingest run's `approve` update (the alias switch). */
export function reingestApproveCommand(workflowId: string): string {
  return `ragops reingest approve ${workflowId}`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * `notice` safe to send: URLs lose their userinfo, query and fragment (error texts can carry
 * presigned URLs), every value in `secrets` is replaced, and long texts are cut.
 */
export function scrubNotice(notice: Notice, secrets: readonly string[] = []): Notice {
  const clean = (text: string, max: number) => clip(scrubSecrets(redactUrls(text), secrets), max);
  return {
    ...notice,
    summary: clean(notice.summary.split('\n')[0] ?? '', MAX_SUMMARY),
    details: Object.fromEntries(Object.entries(notice.details).map(([key, value]) => [key, typeof value === 'string' ? clean(value, MAX_DETAIL) : value])),
  };
}

/**
 * The parts of a webhook URL that are secret on their own: the whole URL, its password, and
 * every path segment or query value that looks like a token (Slack's is the last path segment).
 */
export function secretPartsOfUrl(url: string): string[] {
  const parts = [url];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return parts;
  }
  if (parsed.password) parts.push(parsed.password, decodeURIComponent(parsed.password));
  const tokenLike = (value: string) => value.length >= 16 || (value.length >= 8 && /\d/.test(value) && /[a-z]/i.test(value));
  for (const segment of parsed.pathname.split('/')) if (tokenLike(segment)) parts.push(segment);
  for (const value of parsed.searchParams.values()) if (tokenLike(value)) parts.push(value);
  return [...new Set(parts)];
}

export function genericBody(notice: Notice, webUiUrl?: string): GenericBody {
  return { ...notice, ...(webUiUrl ? { webUiUrl } : {}) };
}

/** Slack's mrkdwn treats these three as control characters. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function noticeHeadline(notice: Notice): string {
  return `[${TITLES[notice.event]}] ${notice.runbook} of stack ${notice.stack}: ${notice.summary}`;
}

export function slackBody(notice: Notice, webUiUrl?: string): SlackBody {
  const headline = noticeHeadline(notice);
  const details = Object.entries(notice.details);
  const command = typeof notice.details.approveCommand === 'string' ? notice.details.approveCommand : undefined;
  const blocks: Array<Record<string, unknown>> = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(`*${TITLES[notice.event]}* — ${slackEscape(`${notice.runbook} of stack ${notice.stack}`)}\n${slackEscape(notice.summary)}`, 3_000) } },
  ];
  if (command) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`To approve, run:\n\`${slackEscape(command)}\``, 3_000) } });
  const fields = details.filter(([key]) => key !== 'approveCommand').slice(0, MAX_SLACK_FIELDS);
  if (fields.length > 0) blocks.push({ type: 'section', fields: fields.map(([key, value]) => ({ type: 'mrkdwn', text: clip(`*${slackEscape(key)}*\n${slackEscape(String(value))}`, 2_000) })) });
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: slackEscape(`run ${notice.workflowId}`) + (webUiUrl ? ` · <${webUiUrl}|open in the Temporal UI>` : '') }],
  });
  return { text: [headline, ...(command ? [`To approve: ${command}`] : []), ...(webUiUrl ? [webUiUrl] : [])].join('\n'), blocks };
}

/** The body a webhook of `type` is sent. */
export function renderNotice(type: Webhook['type'], notice: Notice, webUiUrl?: string): GenericBody | SlackBody {
  return type === 'slack' ? slackBody(notice, webUiUrl) : genericBody(notice, webUiUrl);
}
