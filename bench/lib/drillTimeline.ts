// What a restore drill's Postgres activity does when, seen from outside: the server's own
// session timestamps (pg_stat_activity) and whether the scratch database exists, polled.
// The drill reports its pg_restore check (download + restore) and its row counts; this
// splits the first and times the scratch database's drop, which no report figure covers.
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { PG } from '../../test/support/postgres.js';

/** Server times (epoch ms) of the drill's steps on `scratchDatabase`; exact where a session timestamp says so. */
export interface DrillTimeline {
  scratchDatabase: string;
  /** CREATE DATABASE finished (state_change of the admin session), or first seen. */
  created?: number;
  /** The first pg_restore connection (backend_start): the download to local disk is over. */
  restoreStarted?: number;
  /** The row-count session connected (backend_start): pg_restore is over and its temp file removed. */
  restoreEnded?: number;
  /** DROP DATABASE started (query_start), or else the last moment a session was seen on the scratch database. */
  dropStarted?: number;
  /** DROP DATABASE finished (state_change), or else the first poll that no longer found the database. */
  dropped?: number;
  /** Whether `dropStarted` / `dropped` come from the server's timestamps rather than from polls. */
  exactDrop: { start: boolean; end: boolean };
  polls: number;
  pollMs: number;
}

interface Session {
  app: string;
  db: string | null;
  state: string | null;
  query: string | null;
  backendStart: number;
  queryStart: number | null;
  stateChange: number | null;
}

const POLL_SQL = `
  SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now,
         EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS present,
         coalesce((SELECT json_agg(json_build_object(
                    'app', application_name, 'db', datname, 'state', state, 'query', left(query, 160),
                    'backendStart', extract(epoch FROM backend_start) * 1000,
                    'queryStart', extract(epoch FROM query_start) * 1000,
                    'stateChange', extract(epoch FROM state_change) * 1000))
                   FROM pg_stat_activity
                   WHERE application_name LIKE 'ragops-%' AND (datname = $1 OR query LIKE '%' || $1 || '%')
                     AND pid <> pg_backend_pid()), '[]'::json) AS sessions`;

/** Polls every `pollMs` until `stop()` resolves with the timeline. */
export async function watchDrillTimeline(scratchDatabase: string, pollMs = 50): Promise<{ stop(): Promise<DrillTimeline> }> {
  const client = new pg.Client({ ...PG, database: 'postgres', application_name: 'ragops-bench-watch' });
  client.on('error', () => {});
  await client.connect();
  const timeline: DrillTimeline = { scratchDatabase, exactDrop: { start: false, end: false }, polls: 0, pollMs };
  let lastSeenSession: number | undefined;
  let stopping = false;

  const poll = async () => {
    const { rows } = await client.query<{ now: string; present: boolean; sessions: Session[] }>(POLL_SQL, [scratchDatabase]);
    const { present, sessions } = rows[0]!;
    const now = Number(rows[0]!.now);
    timeline.polls += 1;
    const isAdmin = (s: Session, verb: string) => s.app === 'ragops-restore-admin' && (s.query ?? '').startsWith(verb);
    for (const s of sessions) {
      if (isAdmin(s, 'CREATE DATABASE') && s.state === 'idle' && s.stateChange) timeline.created = s.stateChange;
      if (s.db === scratchDatabase) lastSeenSession = now;
      if (s.db === scratchDatabase && s.app === 'ragops-restore') timeline.restoreStarted = Math.min(timeline.restoreStarted ?? Infinity, s.backendStart);
      if (s.db === scratchDatabase && s.app === 'ragops-restore-count') timeline.restoreEnded ??= s.backendStart;
      if (isAdmin(s, 'DROP DATABASE') && s.queryStart) {
        timeline.dropStarted = s.queryStart;
        timeline.exactDrop.start = true;
        if (s.state === 'idle' && s.stateChange) {
          timeline.dropped = s.stateChange;
          timeline.exactDrop.end = true;
        }
      }
    }
    if (present) timeline.created ??= now;
    else if (timeline.created !== undefined && timeline.dropped === undefined) timeline.dropped = now;
  };

  const loop = (async () => {
    while (!stopping) {
      await poll();
      await sleep(pollMs);
    }
  })();
  loop.catch(() => {});

  return {
    async stop() {
      stopping = true;
      try {
        await loop;
        await poll(); // the state at the end, should the last interval have missed the drop
      } finally {
        await client.end().catch(() => undefined);
      }
      if (!timeline.exactDrop.start && timeline.dropped !== undefined) timeline.dropStarted = lastSeenSession;
      return timeline;
    },
  };
}
