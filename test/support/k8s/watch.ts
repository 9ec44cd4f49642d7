// `?watch=true`: a chunked stream of `{"type":...,"object":...}` lines. From a resourceVersion it
// replays what happened since (ERROR 410 Expired when that is too old); without one (or with
// `sendInitialEvents=true`) it starts with ADDED for every object. Selectors turn a MODIFIED
// that moves an object in or out of the selection into ADDED/DELETED, as the real watch cache does.
// Asked for `as=Table` (`kubectl get -w`), each event carries a one-row Table.
import type { ServerResponse } from 'node:http';
import { apiVersionOf } from './resources.js';
import type { ApiRequest } from './rest.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { expired, failureStatus } from './status.js';
import type { ObjectStore, StoreEvent } from './store.js';
import { asTable, wantsTable } from './tables.js';

export function serveWatch(store: ObjectStore, req: ApiRequest, res: ServerResponse): void {
  const byLabel = labelMatcher(req.query.get('labelSelector'));
  const byField = fieldMatcher(req.query.get('fieldSelector'));
  const inScope = (obj: any) =>
    obj !== undefined && (req.namespace === undefined || obj.metadata.namespace === req.namespace) && byLabel(obj) && byField(obj);
  const rvParam = req.query.get('resourceVersion') ?? '';
  const sendInitial = req.query.get('sendInitialEvents') === 'true';

  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
  res.flushHeaders();
  const table = wantsTable(req.headers.accept);
  const send = (type: string, object: any) => {
    const printed = table && type !== 'ERROR' && type !== 'BOOKMARK' ? asTable(req.r, object, req.query.get('includeObject')) : object;
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object: printed })}\n`);
  };
  const deliver = (event: StoreEvent) => {
    const isIn = inScope(event.object);
    const wasIn = event.type === 'MODIFIED' && inScope(event.previous);
    if (event.type === 'MODIFIED' && isIn !== wasIn) send(isIn ? 'ADDED' : 'DELETED', event.object);
    else if (isIn) send(event.type, event.object);
  };

  if (rvParam === '' || rvParam === '0' || sendInitial) {
    for (const obj of store.list(req.r, req.namespace)) if (inScope(obj)) send('ADDED', obj);
    if (sendInitial && req.query.get('allowWatchBookmarks') === 'true') {
      send('BOOKMARK', {
        kind: req.r.kind,
        apiVersion: apiVersionOf(req.r),
        metadata: { resourceVersion: String(store.resourceVersion), annotations: { 'k8s.io/initial-events-end': 'true' } },
      });
    }
  } else {
    const missed = /^\d+$/.test(rvParam) ? store.eventsSince(req.r, Number(rvParam)) : undefined;
    if (missed === undefined) {
      send('ERROR', failureStatus(expired(rvParam)));
      res.end();
      return;
    }
    for (const event of missed) deliver(event);
  }

  const unsubscribe = store.subscribe((event) => {
    if (event.resource === req.r) deliver(event);
  });
  const seconds = Number(req.query.get('timeoutSeconds') ?? 0);
  const timer = seconds > 0 ? setTimeout(() => res.end(), seconds * 1000) : undefined;
  res.on('close', () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  });
}
