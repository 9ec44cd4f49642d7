// gateway-api: the weights of an HTTPRoute's backendRefs. In every rule that refers to the
// stable Service: stable 100 − weight, canary weight (a canary backendRef is added, on the stable
// one's port, to a rule that lacks it). One JSON patch, each write guarded by a `test` of the
// backendRef's name at that index, so a route edited meanwhile fails the patch instead of
// getting a weight on the wrong backend; nothing is sent when every weight is already right.
import type { GatewayApiShifter } from '../../config/stacks/trafficKubernetes.js';
import { checkWeight, configError, jsonPatch, percent, requireObject, type KubernetesShifterDriver } from './kubernetesCommon.js';

interface BackendRef {
  name: string;
  group?: string;
  kind?: string;
  port?: number;
  /** Gateway API's default is 1. */
  weight?: number;
  [field: string]: unknown;
}
export interface HttpRouteJson {
  metadata: { name: string };
  spec?: { rules?: Array<{ backendRefs?: BackendRef[]; [field: string]: unknown }> };
}

const routeRef = (route: string) => `httproute.gateway.networking.k8s.io/${route}`;
const isService = (ref: BackendRef, name: string) => ref.name === name && (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service';
const weightOf = (ref: BackendRef | undefined) => (ref === undefined ? 0 : (ref.weight ?? 1));

/** The rules that refer to the stable backend, with the indexes of both backends in each. */
function routedRules(route: HttpRouteJson, s: GatewayApiShifter): Array<{ rule: number; refs: BackendRef[]; stable: number; canary: number }> {
  return (route.spec?.rules ?? []).flatMap((rule, i) => {
    const refs = rule.backendRefs ?? [];
    const stable = refs.findIndex((r) => isService(r, s.stableBackend));
    return stable < 0 ? [] : [{ rule: i, refs, stable, canary: refs.findIndex((r) => isService(r, s.canaryBackend)) }];
  });
}

const noStableRule = (route: HttpRouteJson, s: GatewayApiShifter) =>
  configError(`httproute/${route.metadata.name} has no rule with a backendRef to Service ${s.stableBackend}: check the shifter's route and stableBackend in the stacks file`);

/** The JSON patch that gives the canary `weight` % in every rule routing to the stable backend; [] when nothing changes (pure). */
export function httpRouteWeightOps(route: HttpRouteJson, s: GatewayApiShifter, weight: number): object[] {
  const rules = routedRules(route, s);
  if (rules.length === 0) throw noStableRule(route, s);
  const ops: object[] = [];
  const setWeight = (rule: number, index: number, name: string, value: number) => {
    const at = `/spec/rules/${rule}/backendRefs/${index}`;
    ops.push({ op: 'test', path: `${at}/name`, value: name }, { op: 'add', path: `${at}/weight`, value });
  };
  for (const { rule, refs, stable, canary } of rules) {
    if (weightOf(refs[stable]) !== 100 - weight) setWeight(rule, stable, s.stableBackend, 100 - weight);
    if (canary >= 0) {
      if (weightOf(refs[canary]) !== weight) setWeight(rule, canary, s.canaryBackend, weight);
    } else {
      const port = refs[stable]!.port;
      ops.push(
        { op: 'test', path: `/spec/rules/${rule}/backendRefs/${stable}/name`, value: s.stableBackend },
        { op: 'add', path: `/spec/rules/${rule}/backendRefs/-`, value: { name: s.canaryBackend, ...(port !== undefined ? { port } : {}), weight } },
      );
    }
  }
  return ops;
}

/** The canary's share over the rules that route to the stable backend; null when they disagree or both weights are 0 (pure). */
export function httpRouteWeight(route: HttpRouteJson, s: GatewayApiShifter): { weight: number | null; detail: string } {
  const rules = routedRules(route, s);
  if (rules.length === 0) throw noStableRule(route, s);
  const shares = rules.map(({ refs, stable, canary }) => {
    const [sw, cw] = [weightOf(refs[stable]), weightOf(refs[canary])];
    return { sw, cw, share: sw + cw === 0 ? null : percent(cw, sw + cw) };
  });
  const detail = `httproute/${route.metadata.name}: ${shares.map(({ sw, cw }, i) => `rule ${rules[i]!.rule} ${s.stableBackend}=${sw} ${s.canaryBackend}=${cw}`).join(', ')}`;
  const distinct = [...new Set(shares.map((x) => x.share))];
  if (distinct.length !== 1) return { weight: null, detail: `${detail} (the rules disagree)` };
  return { weight: distinct[0]!, detail: distinct[0] === null ? `${detail} (no weight on either backend)` : detail };
}

const MISSING_ROUTE = "check the shifter's route in the stacks file (an HTTPRoute, gateway.networking.k8s.io/v1) and the namespace";

export const gatewayApiDriver: KubernetesShifterDriver<GatewayApiShifter> = {
  async set({ target, shifter, weight, signal }) {
    checkWeight(weight);
    const ref = routeRef(shifter.route);
    const route = await requireObject<HttpRouteJson>(target, ref, MISSING_ROUTE, signal);
    const ops = httpRouteWeightOps(route, shifter, weight);
    if (ops.length === 0) {
      const { weight: now, detail } = httpRouteWeight(route, shifter);
      return { weight: now ?? weight, detail: `${detail} (unchanged)` };
    }
    const patched = await jsonPatch<HttpRouteJson>(target, ref, ops, signal);
    const { weight: now, detail } = httpRouteWeight(patched, shifter);
    return { weight: now ?? weight, detail };
  },

  async read({ target, shifter, signal }) {
    const route = await requireObject<HttpRouteJson>(target, routeRef(shifter.route), MISSING_ROUTE, signal);
    return httpRouteWeight(route, shifter);
  },
};
