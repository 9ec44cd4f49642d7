import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { z } from 'zod';
import type { MirrorEntry } from '../../core/mirror.js';
import type { ArtifactStore } from '../store/types.js';

const mirrorEntrySchema = z.object({
  key: z.string(),
  size: z.number().int().nonnegative(),
  etag: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  storedAt: z.string().min(1),
});

/** The object a mirror backup writes beside its manifest: every object it holds and where its bytes live. */
export const mirrorEntryListSchema = z.object({
  formatVersion: z.literal(1),
  component: z.literal('mirror'),
  name: z.string(),
  bucket: z.string(),
  prefix: z.string(),
  entries: z.array(mirrorEntrySchema),
});
export type MirrorEntryList = z.infer<typeof mirrorEntryListSchema>;

/** What a mirror attempt has copied so far, so a retry skips it (see mirrorBucket). */
const checkpointSchema = z.object({ formatVersion: z.literal(1), copied: z.array(mirrorEntrySchema) });

export const checkpointKeyOf = (entriesKey: string) => `${entriesKey}.checkpoint`;

/** The list as JSON, one entry a line, produced as it is read: never one big string. */
function* jsonLines(head: Record<string, unknown>, field: string, entries: MirrorEntry[]): Generator<Buffer> {
  yield Buffer.from(`${JSON.stringify(head).slice(0, -1)},${JSON.stringify(field)}:[\n`);
  // A few hundred entries a chunk: small writes, still never the whole list at once.
  for (let start = 0; start < entries.length; start += 256) {
    const lines = entries.slice(start, start + 256).map((entry) => JSON.stringify(entry));
    yield Buffer.from(`${start === 0 ? '' : ',\n'}${lines.join(',\n')}`);
  }
  yield Buffer.from('\n]}\n');
}

/** The entry list's bytes, streamed (write it with putHashed: the manifest records its size and SHA-256). */
export function entryListBody(list: MirrorEntryList): Readable {
  const { entries, ...head } = list;
  return Readable.from(jsonLines(head, 'entries', entries));
}

export class MirrorEntryListUnreadable extends Error {
  constructor(readonly key: string, location: string, reason: string) {
    super(`the mirror entry list ${key} in ${location} cannot be read: ${reason}`);
    this.name = 'MirrorEntryListUnreadable';
  }
}

export async function readEntryList(store: ArtifactStore, key: string, signal?: AbortSignal): Promise<MirrorEntryList> {
  const body = await text(await store.get(key, { signal }));
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new MirrorEntryListUnreadable(key, store.location, `not JSON (${(error as Error).message})`);
  }
  const parsed = mirrorEntryListSchema.safeParse(json);
  if (!parsed.success) throw new MirrorEntryListUnreadable(key, store.location, parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).slice(0, 3).join('; '));
  return parsed.data;
}

export async function writeCheckpoint(store: ArtifactStore, entriesKey: string, copied: MirrorEntry[], signal?: AbortSignal): Promise<void> {
  const key = checkpointKeyOf(entriesKey);
  await store.put(key, Readable.from(jsonLines({ formatVersion: 1 }, 'copied', copied)), { signal, contentType: 'application/json' }).catch(async (error) => {
    await store.discardUnfinished(key).catch(() => 0);
    throw error;
  });
}

/** The copies an earlier attempt recorded; none when there is no checkpoint or it does not parse. */
export async function readCheckpoint(store: ArtifactStore, entriesKey: string, signal?: AbortSignal): Promise<MirrorEntry[]> {
  const key = checkpointKeyOf(entriesKey);
  if (!(await store.exists(key))) return [];
  try {
    const parsed = checkpointSchema.safeParse(JSON.parse(await text(await store.get(key, { signal }))));
    return parsed.success ? parsed.data.copied : [];
  } catch {
    return [];
  }
}
