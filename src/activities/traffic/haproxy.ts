import { connect } from 'node:net';
import type { HaproxyShifter } from '../../config/stacks/traffic.js';
import { canaryShare, configError, errorReason, stableWeightFor, unreachable, type ShifterContext, type ShifterDriver, type WeightReading, type WeightResult } from './types.js';

// HAProxy through its runtime API (the `stats socket ... level admin`, TCP or unix): one
// command per connection, answered and closed by HAProxy (its non-interactive mode). The
// canary server gets the canary's share as its weight and the stable server the rest, so the
// two add up to 100 and `balance roundrobin` (a dynamic algorithm) splits requests in that
// proportion; a server at weight 0 gets no new traffic. Commands are built by the pure
// functions below and sent by `haproxyCommand`; names were validated by the schema, so none
// can carry a `;` or a line break that would chain another command.
//
// Runtime weights live in the running process: a reload from haproxy.cfg puts back the
// weights written there, unless HAProxy keeps a `server-state-file` across reloads.
// `readTrafficWeight` shows such a drift; the canary sets its weight again at each step.

/** One command's bound: the socket is local, an answer takes milliseconds. */
const COMMAND_TIMEOUT_MS = 5_000;

export type HaproxySocket = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseHaproxySocket(socket: string): HaproxySocket {
  if (socket.startsWith('/')) return { kind: 'unix', path: socket };
  const match = /^tcp:\/\/(?:\[([^\]]+)\]|([^:/]+)):([0-9]{1,5})$/.exec(socket);
  if (!match) throw configError(`haproxy socket ${socket}: not tcp://host:port or an absolute unix socket path`);
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw configError(`haproxy socket ${socket}: port ${port} is out of range`);
  return { kind: 'tcp', host: match[1] ?? match[2]!, port };
}

export function describeHaproxySocket(socket: HaproxySocket): string {
  return socket.kind === 'unix' ? `unix socket ${socket.path}` : `${socket.host.includes(':') ? `[${socket.host}]` : socket.host}:${socket.port}`;
}

export function getWeightCommand(backend: string, server: string): string {
  return `get weight ${backend}/${server}`;
}

export function setWeightCommand(backend: string, server: string, weight: number): string {
  if (!Number.isInteger(weight) || weight < 0 || weight > 256) throw new RangeError(`an HAProxy weight is an integer 0..256, not ${weight}`);
  return `set server ${backend}/${server} weight ${weight}`;
}

/** `get weight`'s answer: "10 (initial 1)". Anything else is HAProxy saying no ("No such server."). */
export function parseGetWeight(answer: string): { current: number; initial: number } | { error: string } {
  const match = /^(\d+) \(initial (\d+)\)\s*$/.exec(answer.trim());
  if (!match) return { error: answer.trim() || 'an empty answer' };
  return { current: Number(match[1]), initial: Number(match[2]) };
}

export interface ServerWeights {
  stable: number;
  canary: number;
}

/**
 * The commands that take the servers from `current` to the canary share `weight`, in the
 * order to send them: the weight that goes up first, then the one that goes down, so the
 * backend is never left with both servers at 0 (no server: 503s) in between. Nothing to send
 * when the weights are already in force: setting a weight twice is harmless.
 */
export function haproxyWeightCommands(shifter: Pick<HaproxyShifter, 'backend' | 'stableServer' | 'canaryServer'>, current: ServerWeights, weight: number): string[] {
  const target: ServerWeights = { stable: stableWeightFor(weight), canary: weight };
  const changes = (['stable', 'canary'] as const)
    .filter((role) => current[role] !== target[role])
    .sort((a, b) => Number(target[b] > current[b]) - Number(target[a] > current[a]));
  return changes.map((role) => setWeightCommand(shifter.backend, role === 'stable' ? shifter.stableServer : shifter.canaryServer, target[role]));
}

/** HAProxy's answers that no retry changes: a name that is not there, a socket below `level admin`, a static algorithm. */
const CONFIG_ANSWER = /^(?:No such (?:backend|server)|Permission denied|Unknown command|Backend is using a static LB algorithm|Absolute weight|Require 'backend\/server'|Invalid )/i;

/** Sends one command and returns HAProxy's answer (the connection is closed by HAProxy after it). */
export async function haproxyCommand(socket: HaproxySocket, command: string, signal: AbortSignal, timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  const where = `haproxy runtime API on ${describeHaproxySocket(socket)}`;
  signal.throwIfAborted();
  return new Promise<string>((resolve, reject) => {
    const connection = socket.kind === 'unix' ? connect({ path: socket.path }) : connect({ host: socket.host, port: socket.port });
    let answer = '';
    let settled = false;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      connection.destroy();
      if (error) reject(error);
      else resolve(answer);
    };
    const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
    const timer = setTimeout(() => finish(unreachable(`${where}: no answer to "${command}" within ${timeoutMs} ms; is HAProxy running and the stats socket declared there?`)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    connection.setEncoding('utf8');
    connection.on('data', (chunk: string) => (answer += chunk));
    connection.on('end', () => finish(undefined));
    connection.on('close', () => finish(undefined));
    connection.on('error', (error: NodeJS.ErrnoException) => {
      // A socket file we may not open is configuration; a refused or missing one may be an HAProxy (re)starting.
      if (error.code === 'EACCES' || error.code === 'EPERM') {
        finish(configError(`${where}: ${error.code}: the worker may not open the socket; give its user access (the stats socket's mode/user/group)`));
      } else {
        finish(unreachable(`${where}: ${errorReason(error)} (${error.code ?? 'error'}); is HAProxy running with this stats socket?`));
      }
    });
    connection.on('connect', () => connection.write(`${command}\n`));
  });
}

type Send = (command: string) => Promise<string>;

async function readServerWeight(send: Send, shifter: HaproxyShifter, server: string, where: string): Promise<number> {
  const answer = await send(getWeightCommand(shifter.backend, server));
  const parsed = parseGetWeight(answer);
  if ('error' in parsed) {
    if (CONFIG_ANSWER.test(parsed.error)) {
      throw configError(`${where}: ${shifter.backend}/${server}: HAProxy says "${parsed.error}"; check backend, stableServer and canaryServer against haproxy.cfg`);
    }
    throw unreachable(`${where}: ${shifter.backend}/${server}: unexpected answer to "get weight": "${parsed.error.slice(0, 200)}"`);
  }
  return parsed.current;
}

async function readWeights(send: Send, shifter: HaproxyShifter, where: string): Promise<ServerWeights> {
  return {
    stable: await readServerWeight(send, shifter, shifter.stableServer, where),
    canary: await readServerWeight(send, shifter, shifter.canaryServer, where),
  };
}

function sender(shifter: HaproxyShifter, ctx: ShifterContext): { send: Send; where: string } {
  const socket = parseHaproxySocket(shifter.socket);
  return { send: (command) => haproxyCommand(socket, command, ctx.signal), where: `haproxy ${describeHaproxySocket(socket)}` };
}

export const haproxyDriver: ShifterDriver<HaproxyShifter> = {
  async set(shifter, weight, ctx): Promise<WeightResult> {
    const { send, where } = sender(shifter, ctx);
    const before = await readWeights(send, shifter, where);
    const commands = haproxyWeightCommands(shifter, before, weight);
    for (const command of commands) {
      ctx.beat({ command });
      const answer = (await send(command)).trim();
      if (answer !== '') {
        const hint = /static LB algorithm/i.test(answer) ? ' (use `balance roundrobin`, whose weights change at run time)' : /Permission denied/i.test(answer) ? ' (declare the stats socket with `level admin`)' : '';
        throw configError(`${where}: "${command}" was refused: "${answer.slice(0, 300)}"${hint}`);
      }
    }
    // Read back what HAProxy now has: the share reported is the one in force, not the one asked for.
    const after = await readWeights(send, shifter, where);
    const share = canaryShare(after.stable, after.canary);
    if (after.canary !== weight || after.stable !== stableWeightFor(weight) || share === null) {
      throw unreachable(`${where}: after setting the canary to ${weight} % HAProxy has ${shifter.stableServer}=${after.stable}, ${shifter.canaryServer}=${after.canary} in ${shifter.backend}; another writer may be changing the weights`);
    }
    const servers = `${shifter.backend}: ${shifter.stableServer} ${after.stable}, ${shifter.canaryServer} ${after.canary}`;
    const detail = commands.length === 0 ? `${where}: already in force (${servers})` : `${where}: ${servers} (was ${before.stable}, ${before.canary})`;
    return { weight: share, detail };
  },

  async read(shifter, ctx): Promise<WeightReading> {
    const { send, where } = sender(shifter, ctx);
    const weights = await readWeights(send, shifter, where);
    const share = canaryShare(weights.stable, weights.canary);
    const servers = `${shifter.backend}: ${shifter.stableServer} ${weights.stable}, ${shifter.canaryServer} ${weights.canary}`;
    return share === null ? { weight: null, detail: `${where}: both servers at weight 0, nothing is served (${servers})` } : { weight: share, detail: `${where}: ${servers}` };
  },
};
