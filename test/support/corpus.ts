// A realistic re-ingestion corpus: real prose split into 300–600-character chunks, from the
// project's own README and docs, the README and other Markdown files of the installed packages,
// then the doc comments of @types/node, TypeScript's lib files and the other packages' .d.ts
// files (the AWS SDK's are long), and the docstrings of the Python packages in the project's
// .venv (which scripts/setup.sh makes) — in that order, each set of
// files sorted by path, so a given N always gives the same chunks (for the same lockfile).
// Loaded into a PostgreSQL table `chunks(id bigint primary key, text text, document_id text,
// updated_at timestamptz)` or written as JSONL objects into an S3 bucket; golden queries are
// sentences of known chunks, each found in no other chunk, expecting that chunk's id.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Chunk {
  /** 1..N, in corpus order. */
  id: number;
  text: string;
  /** The file the chunk comes from, relative to the repository (node_modules/... for packages). */
  documentId: string;
  /** 2026-01-01T00:00:00Z plus `id` minutes. */
  updatedAt: string;
}

export interface GoldenQuery {
  query: string;
  expect: number[];
}

export const MIN_CHUNK = 300;
export const MAX_CHUNK = 600;
const BASE_TIME = Date.UTC(2026, 0, 1);

// ---------------------------------------------------------------------------------------------
// Source files

function walk(dir: string, keep: (path: string) => boolean, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      continue;
    }
    if (stat.isDirectory()) walk(path, keep, out);
    else if (stat.isFile() && keep(path)) out.push(path);
  }
  return out;
}

type Kind = 'markdown' | 'doc-comments' | 'docstrings';

function* sourceFiles(): Generator<{ path: string; kind: Kind }> {
  for (const path of [join(ROOT, 'README.md'), ...walk(join(ROOT, 'docs'), (p) => p.endsWith('.md'))]) yield { path, kind: 'markdown' };
  for (const path of walk(join(ROOT, 'node_modules'), (p) => /\.(md|markdown)$/i.test(p) && !/CHANGELOG|HISTORY|LICENSE/i.test(p))) yield { path, kind: 'markdown' };
  for (const path of walk(join(ROOT, 'node_modules/@types/node'), (p) => p.endsWith('.d.ts'))) yield { path, kind: 'doc-comments' };
  for (const path of walk(join(ROOT, 'node_modules/typescript/lib'), (p) => /\/lib\.[a-z0-9.]+\.d\.ts$/.test(p))) yield { path, kind: 'doc-comments' };
  const done = (p: string) => p.includes('/node_modules/@types/node/') || p.includes('/node_modules/typescript/lib/');
  for (const path of walk(join(ROOT, 'node_modules'), (p) => p.endsWith('.d.ts') && !done(p))) yield { path, kind: 'doc-comments' };
  // The project's Python virtualenv (scripts/setup.sh): the docstrings of its packages.
  for (const lib of walk(join(ROOT, '.venv/lib'), (p) => /\/site-packages\/[^/]+\.dist-info\/RECORD$/.test(p)).slice(0, 1)) {
    const sitePackages = lib.replace(/\/[^/]+\.dist-info\/RECORD$/, '');
    for (const path of walk(sitePackages, (p) => p.endsWith('.py') && !p.includes('/tests/'))) yield { path, kind: 'docstrings' };
  }
}

// ---------------------------------------------------------------------------------------------
// Text to paragraphs

/** The prose of Python docstrings: no doctest examples, no reST field lists or directives. */
export function docstringParagraphs(source: string): string[] {
  const paragraphs: string[] = [];
  for (const match of source.matchAll(/("""|''')([\s\S]*?)\1/g)) {
    const lines = match[2]!
      .split('\n')
      .filter((line) => !/^\s*(>>>|\.\.\.|:[a-z]+[^:]*:|\.\. )/.test(line))
      .map((line) => line.trim().replace(/:[a-z]+:`~?([^`]+)`/g, '$1').replace(/``([^`]+)``/g, '$1'));
    paragraphs.push(...markdownParagraphs(lines.join('\n')));
  }
  return paragraphs;
}

const ENTITIES: Record<string, string> = { mdash: '—', ndash: '–', amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' };

/** Markdown to prose paragraphs: no code blocks, tables, HTML, images or link targets; headings kept as their own paragraph. */
export function markdownParagraphs(markdown: string): string[] {
  const text = markdown
    .replace(/\r\n/g, '\n')
    .replace(/^(```|~~~)[\s\S]*?^\1[^\n]*$/gm, '\n')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<[^>\n]+>/g, ' ')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    .replace(/^\s*\[[^\]]+\]:\s*\S+.*$/gm, '')
    .replace(/&(mdash|ndash|amp|lt|gt|quot|#39|nbsp);/g, (_m, name: string) => ENTITIES[name] ?? ' ');
  const paragraphs: string[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((line) => !/^\s*(\||[-=*_]{3,}\s*$)/.test(line) && !/^ {4,}\S/.test(line));
    for (const part of splitHeadings(lines)) {
      const clean = part
        .replace(/`+([^`\n]+)`+/g, '$1')
        .replace(/\*{1,3}([^*\n]+)\*{1,3}/g, '$1')
        .replace(/(^|[^\w])_{1,2}([^_\n]+)_{1,2}(?=[^\w]|$)/g, '$1$2')
        .replace(/\s+/g, ' ')
        .trim();
      if (clean !== '') paragraphs.push(clean);
    }
  }
  return paragraphs;
}

function splitHeadings(lines: string[]): string[] {
  const parts: string[] = [];
  let current: string[] = [];
  for (const line of lines) {
    const heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      if (current.length > 0) parts.push(current.join(' '));
      parts.push(`${heading[1]!.replace(/#+\s*$/, '')}.`.replace(/([.!?:])\.$/, '$1'));
      current = [];
    } else {
      current.push(line.replace(/^\s*(?:[-*+]|\d+[.)])\s+/, '').replace(/^\s*>\s?/, ''));
    }
  }
  if (current.length > 0) parts.push(current.join(' '));
  return parts;
}

/** The prose of `/** ... *\/` comments: no tags, no code examples. */
export function docCommentParagraphs(source: string): string[] {
  const paragraphs: string[] = [];
  for (const match of source.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const lines = match[1]!.split('\n').map((line) => line.replace(/^\s*\* ?/, ''));
    const prose: string[] = [];
    let inCode = false;
    for (const line of lines) {
      if (/^\s*```/.test(line)) {
        inCode = !inCode;
        continue;
      }
      if (inCode) continue;
      if (/^\s*@/.test(line)) break;
      prose.push(line);
    }
    // lib.dom's comments end in a link to MDN: not prose.
    const kept = prose.filter((line) => !/^\s*\[MDN Reference\]/.test(line));
    paragraphs.push(...markdownParagraphs(kept.join('\n').replace(/\{@link\s+([^}|\s]+)(?:\s*\|?\s*([^}]*))?\}/g, (_m, a: string, b?: string) => b?.trim() || a)));
  }
  return paragraphs;
}

// ---------------------------------------------------------------------------------------------
// Paragraphs to chunks

const sentencesOf = (paragraph: string) => paragraph.split(/(?<=[.!?])\s+(?=[A-Z0-9"'(`])/);

function cutWords(text: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf(' ', max);
    if (cut < max / 2) cut = max;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest !== '') pieces.push(rest);
  return pieces;
}

/** Paragraphs packed into chunks of MIN–MAX characters (a short tail joins the previous chunk when it fits, else is dropped). */
export function chunkParagraphs(paragraphs: string[]): string[] {
  const units = paragraphs.flatMap((paragraph) => (paragraph.length <= MAX_CHUNK ? [paragraph] : sentencesOf(paragraph).flatMap((s) => cutWords(s, MAX_CHUNK))));
  const chunks: string[] = [];
  let current = '';
  for (const unit of units) {
    const joined = current === '' ? unit : `${current} ${unit}`;
    if (joined.length <= MAX_CHUNK) {
      current = joined;
      if (current.length >= MIN_CHUNK) {
        chunks.push(current);
        current = '';
      }
      continue;
    }
    // Too long together: keep what there is if it is long enough, else start over from this unit.
    if (current.length >= MIN_CHUNK) chunks.push(current);
    current = unit;
    if (current.length >= MIN_CHUNK) {
      chunks.push(current);
      current = '';
    }
  }
  if (current !== '') {
    const last = chunks.at(-1);
    if (last !== undefined && last.length + 1 + current.length <= MAX_CHUNK) chunks[chunks.length - 1] = `${last} ${current}`;
    else if (current.length >= MIN_CHUNK) chunks.push(current);
  }
  return chunks;
}

const FUNCTION_WORDS = new Set('a an the of to in is are be by for on with as that this it or and not from at can if when which will was its their you your'.split(' '));

/**
 * Prose, not code, tables of symbols or lists of names: mostly letters and spaces, enough words,
 * and English's function words among them (a list of LAPACK routines or of contributors and
 * their e-mail addresses has none, and tokenizes into far more tokens than its length suggests).
 */
function isProse(chunk: string): boolean {
  const letters = (chunk.match(/[A-Za-z ]/g) ?? []).length;
  const words = chunk.split(' ');
  const functionWords = words.filter((word) => FUNCTION_WORDS.has(word.toLowerCase())).length;
  return (
    letters / chunk.length >= 0.8 &&
    words.length >= 40 &&
    functionWords / words.length >= 0.15 &&
    !/\S+@\S+\.\w/.test(chunk) &&
    estimatedTokens(chunk) <= MAX_ESTIMATED_TOKENS
  );
}

/**
 * An over-estimate of the chunk's WordPiece tokens (all-MiniLM-L6-v2's tokenizer, special
 * tokens included): short words 1, long ones a token per 4 letters, digits a token per 2, every
 * other character 1. The test embedding server refuses inputs over 256 tokens, so a corpus
 * chunk must stay well under: with this bound, no chunk of a 40,000-chunk corpus measured over
 * 200 real tokens.
 */
export function estimatedTokens(text: string): number {
  let tokens = 2;
  for (const [piece] of text.matchAll(/[A-Za-z]+|\d+|[^\sA-Za-z\d]/g)) {
    if (/^[A-Za-z]/.test(piece)) tokens += piece.length <= 7 ? 1 : Math.ceil(piece.length / 4);
    else if (/^\d/.test(piece)) tokens += Math.ceil(piece.length / 2);
    else tokens += 1;
  }
  return tokens;
}

const MAX_ESTIMATED_TOKENS = 180;

// ---------------------------------------------------------------------------------------------
// The corpus

const cache = new Map<number, Chunk[]>();

/** N chunks (default 5,000) of real prose; throws when the installed files do not hold that many. */
export function buildCorpus(count = 5000): Chunk[] {
  const cached = cache.get(count);
  if (cached) return cached;
  const seen = new Set<string>();
  const chunks: Chunk[] = [];
  outer: for (const { path, kind } of sourceFiles()) {
    const text = readFileSync(path, 'utf8');
    const paragraphs = kind === 'markdown' ? markdownParagraphs(text) : kind === 'docstrings' ? docstringParagraphs(text) : docCommentParagraphs(text);
    for (const chunk of chunkParagraphs(paragraphs)) {
      if (!isProse(chunk)) continue;
      const normal = chunk.toLowerCase().replace(/[^a-z0-9]+/g, ' ');
      if (seen.has(normal)) continue;
      seen.add(normal);
      const id = chunks.length + 1;
      chunks.push({ id, text: chunk, documentId: relative(ROOT, path), updatedAt: new Date(BASE_TIME + id * 60_000).toISOString() });
      if (chunks.length === count) break outer;
    }
  }
  if (chunks.length < count) throw new Error(`the corpus has only ${chunks.length} chunks of prose in the installed files; ${count} were asked for`);
  cache.set(count, chunks);
  return chunks;
}

/**
 * `count` golden queries, one per stretch of N/count chunks: the opening of the stretch's first
 * chunk that has a usable one — its first sentences, until they make 20 words (at most 40), found
 * in no other chunk — expecting that chunk's id. Of the strategies tried with all-MiniLM-L6-v2 on
 * the 5,000-chunk corpus (the longest sentence, the rarest words, the first sentence, the
 * opening), the opening found its chunk in the top 10 most often: 181 of 181 sampled chunks,
 * against 0.96–0.99 for single sentences, whose generic ones ("reads data from the file into the
 * buffer") sound like a dozen chunks.
 */
export function goldenQueries(chunks: readonly Chunk[], count = 20): GoldenQuery[] {
  const lowered = chunks.map((chunk) => chunk.text.toLowerCase());
  const openingOf = (index: number): string | undefined => {
    const taken: string[] = [];
    for (const sentence of sentencesOf(chunks[index]!.text)) {
      taken.push(sentence.trim());
      if (taken.join(' ').split(/\s+/).length >= 20) break;
    }
    const words = taken.join(' ').split(/\s+/);
    if (words.length < 12) return undefined;
    const opening = words.slice(0, 40).join(' ').replace(/[.!?:,;]+$/, '');
    const needle = opening.toLowerCase();
    return lowered.every((text, other) => other === index || !text.includes(needle)) ? opening : undefined;
  };
  const golden: GoldenQuery[] = [];
  const step = Math.max(1, Math.floor(chunks.length / count));
  for (let start = Math.floor(step / 2); start < chunks.length && golden.length < count; start += step) {
    for (let index = start; index < Math.min(chunks.length, start + step); index++) {
      const opening = openingOf(index);
      if (opening) {
        golden.push({ query: opening, expect: [chunks[index]!.id] });
        break;
      }
    }
  }
  return golden;
}

/** Golden queries no chunk answers (the ids expected are ones the query has nothing to do with): a gate that must fail. */
export function unanswerableGolden(chunks: readonly Chunk[]): GoldenQuery[] {
  const last = chunks.at(-1)!.id;
  return [
    { query: 'a recipe for sourdough bread with rye flour and caraway seeds', expect: [1] },
    { query: 'the migration routes of arctic terns between Greenland and Antarctica', expect: [last] },
  ];
}

// ---------------------------------------------------------------------------------------------
// Where the corpus goes

/** Creates `table` (id bigint primary key, text, document_id, updated_at timestamptz) and fills it. */
export async function loadCorpus(client: pg.Client, chunks: readonly Chunk[], table = 'chunks'): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`);
  await client.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, text text NOT NULL, document_id text NOT NULL, updated_at timestamptz NOT NULL)`);
  for (let start = 0; start < chunks.length; start += 1000) {
    const batch = chunks.slice(start, start + 1000);
    await client.query(
      `INSERT INTO ${table} (id, text, document_id, updated_at) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[])`,
      [batch.map((c) => c.id), batch.map((c) => c.text), batch.map((c) => c.documentId), batch.map((c) => c.updatedAt)],
    );
  }
  await client.query(`ANALYZE ${table}`);
}

/** One JSON line per chunk: `{"id", "text", "document_id", "updated_at"}`. */
export function jsonlLine(chunk: Chunk): string {
  return JSON.stringify({ id: chunk.id, text: chunk.text, document_id: chunk.documentId, updated_at: chunk.updatedAt });
}

/** Writes the corpus as JSONL objects `<prefix>part-00001.jsonl`, ... of `rowsPerObject` lines each; returns their keys. */
export async function writeCorpusJsonl(s3: S3Client, bucket: string, prefix: string, chunks: readonly Chunk[], rowsPerObject = 1000): Promise<string[]> {
  const keys: string[] = [];
  for (let start = 0; start < chunks.length; start += rowsPerObject) {
    const key = `${prefix}part-${String(keys.length + 1).padStart(5, '0')}.jsonl`;
    const body = chunks.slice(start, start + rowsPerObject).map((chunk) => `${jsonlLine(chunk)}\n`).join('');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }));
    keys.push(key);
  }
  return keys;
}
