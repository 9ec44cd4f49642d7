// A Compose service behind a real HAProxy for the canary and Compose blue-green tests: the
// stable container publishes 127.0.0.1:<stable port>, `<service>-canary` (started by ragops
// from ragops' override file) will publish 127.0.0.1:<canary port>; HAProxy's backend has
// both as servers (canary at weight 0), its runtime API on a loopback TCP socket. A probe
// sends traffic through HAProxy and tallies who answered, by the canary weight HAProxy had
// for the whole of each request.
import { execa } from 'execa';
import { composeCommands } from '../../src/activities/compose/commands.js';
import { findFreePort } from '../../src/client/dev/devserver.js';
import type { ComposeTarget } from '../../src/config/stacks/deploy.js';
import { trafficShifterSchema, type TrafficShifter } from '../../src/config/stacks/traffic.js';
import { createComposeProject, composeHead, type TestComposeProject } from './compose-project.js';
import { startHaproxy, type TestHaproxy } from './haproxy.js';
import { trafficRunner } from './traffic.js';

export interface ComposeBehindHaproxy {
  project: TestComposeProject;
  target: ComposeTarget;
  haproxy: TestHaproxy;
  shifter: TrafficShifter;
  stableAddress: string;
  canaryPort: number;
  canaryAddress: string;
  /** The canary's share in HAProxy now (the shifter's own read), or null. */
  canaryWeight(): Promise<number | null>;
  /** The weights of both servers as HAProxy's runtime API says (`get weight`). */
  serverWeights(): Promise<{ stable: number; canary: number }>;
  /** Container ids of a service of the project (running or not). */
  containersOf(service: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function composeBehindHaproxy(image: string): Promise<ComposeBehindHaproxy> {
  const project = await createComposeProject({ image });
  const target: ComposeTarget = { type: 'compose', directory: project.directory, files: ['docker-compose.yml'], projectName: project.projectName, pull: 'never' };
  const [head, ...args] = composeCommands.up({ ...target, files: project.files, flavor: project.flavor }, project.service).argv;
  await execa(head, args);
  const canaryPort = await findFreePort();
  const stableAddress = `127.0.0.1:${project.hostPort}`;
  const canaryAddress = `127.0.0.1:${canaryPort}`;
  const haproxy = await startHaproxy({ stable: stableAddress, canary: canaryAddress });
  const shifter = trafficShifterSchema.parse({ type: 'haproxy', socket: haproxy.socket, backend: haproxy.backend, stableServer: haproxy.stableServer, canaryServer: haproxy.canaryServer });
  const { read } = trafficRunner();
  const getWeight = async (server: string): Promise<number> => {
    const port = Number(haproxy.socket.replace(/^tcp:\/\/[^:]+:/, ''));
    const { connect } = await import('node:net');
    const answer = await new Promise<string>((resolve, reject) => {
      const connection = connect({ host: '127.0.0.1', port });
      let text = '';
      connection.setEncoding('utf8');
      connection.on('connect', () => connection.write(`get weight ${haproxy.backend}/${server}\n`));
      connection.on('data', (chunk: string) => (text += chunk));
      connection.on('close', () => resolve(text));
      connection.on('error', reject);
      connection.setTimeout(2_000, () => connection.destroy(new Error('no answer from the HAProxy runtime API')));
    });
    const weight = Number(/^(\d+)/.exec(answer.trim())?.[1]);
    if (!Number.isFinite(weight)) throw new Error(`get weight ${server}: ${answer}`);
    return weight;
  };
  return {
    project,
    target,
    haproxy,
    shifter,
    stableAddress,
    canaryPort,
    canaryAddress,
    canaryWeight: async () => (await read(shifter)).weight,
    serverWeights: async () => ({ stable: await getWeight(haproxy.stableServer), canary: await getWeight(haproxy.canaryServer) }),
    async containersOf(service) {
      const [docker, ...rest] = ['docker', 'ps', '-aq', '--filter', `label=com.docker.compose.project=${project.projectName}`, '--filter', `label=com.docker.compose.service=${service}`];
      return (await execa(docker!, rest)).stdout.split('\n').filter(Boolean);
    },
    async stop() {
      await haproxy.stop().catch(() => undefined);
      await project.down();
    },
  };
}

export { composeHead };

export interface ProbeTally {
  /** Per canary weight in force for the whole request: answers by body (the version), and others. */
  byWeight: Map<number, Record<string, number>>;
  /** Every change of the weight the poll saw, with when it saw it. */
  changes: Array<{ at: number; weight: number | null }>;
  /** When the weight was first seen at 0 after having been `weight`. */
  zeroAfter(weight: number): number | undefined;
  sent: number;
  stop(): Promise<void>;
}

/**
 * Probe traffic through `url`, `concurrency` requests at a time, each on a connection of its
 * own, until stopped; the canary weight is polled every `pollMs` and each answer is counted
 * under the weight in force from before it was sent until it came back (settled for `settleMs`).
 */
export function startProbe(url: string, weightNow: () => Promise<number | null>, { concurrency = 2, pollMs = 100, settleMs = 300 } = {}): ProbeTally {
  const byWeight = new Map<number, Record<string, number>>();
  let weight: number | null = null;
  let since = Date.now();
  let stopped = false;
  let sent = 0;
  const changes: Array<{ at: number; weight: number | null }> = [];
  const poller = (async () => {
    while (!stopped) {
      const now = await weightNow().catch(() => null);
      if (now !== weight) {
        weight = now;
        since = Date.now();
        changes.push({ at: since, weight });
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  })();
  const worker = async () => {
    while (!stopped) {
      const before = weight;
      const sinceBefore = since;
      const started = Date.now();
      let answer: string;
      try {
        const response = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5_000) });
        const body = (await response.text()).trim();
        answer = response.status === 200 ? body : `HTTP ${response.status} ${body}`;
      } catch (error) {
        answer = `error: ${(error as Error).message}`;
      }
      sent += 1;
      if (before !== null && weight === before && since === sinceBefore && started - since >= settleMs) {
        const counts = byWeight.get(before) ?? {};
        counts[answer] = (counts[answer] ?? 0) + 1;
        byWeight.set(before, counts);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    byWeight,
    changes,
    zeroAfter(from) {
      const start = changes.findIndex((change) => change.weight === from);
      return start < 0 ? undefined : changes.slice(start).find((change) => change.weight === 0)?.at;
    },
    get sent() {
      return sent;
    },
    async stop() {
      stopped = true;
      await Promise.all([poller, ...workers]);
    },
  };
}
