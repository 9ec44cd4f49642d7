// URLs in error texts and evidence can carry credentials: a presigned S3 URL signs its
// query string (X-Amz-Credential, X-Amz-Signature), tokens ride in queries and fragments,
// and `https://user:password@host` holds a password. Redaction keeps what helps an operator
// (scheme, host, port, path) and drops the rest.

/** A URL runs until whitespace, a quote, a bracket or a backslash (an escape in quoted JSON). */
const HTTP_URL = /\bhttps?:\/\/[^\s"'`<>\\{}|^]+/gi;
/** Sentence punctuation after a URL is text, not part of it. */
const TRAILING_PUNCTUATION = /[.,;:!)\]]+$/;

export const REDACTED_QUERY = '?redacted';
/** What stands where a secret value was (a header value an endpoint echoed back). */
export const REDACTED_SECRET = '[redacted]';

function redactOne(url: string): string {
  const trailing = TRAILING_PUNCTUATION.exec(url)?.[0] ?? '';
  const body = trailing ? url.slice(0, -trailing.length) : url;
  const schemeEnd = body.indexOf('://') + 3;
  const rest = body.slice(schemeEnd);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const afterAuthority = authorityEnd === -1 ? '' : rest.slice(authorityEnd);
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  const cut = afterAuthority.search(/[?#]/);
  const path = cut === -1 ? afterAuthority : afterAuthority.slice(0, cut);
  const dropped = cut === -1 ? '' : REDACTED_QUERY;
  return `${body.slice(0, schemeEnd)}${host}${path}${dropped}${trailing}`;
}

/** `text` with the userinfo, query string and fragment of every http(s) URL in it removed. */
export function redactUrls(text: string): string {
  return text.replace(HTTP_URL, redactOne);
}

/** `text` with every resolved secret replaced, longest first (a token inside its `Bearer` value). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return [...secrets].sort((a, b) => b.length - a.length).reduce((scrubbed, secret) => scrubbed.split(secret).join(REDACTED_SECRET), text);
}
