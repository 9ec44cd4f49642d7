// Errors answered as Kubernetes `Status` objects, with the reasons and messages the real API
// server uses (kubectl prints `message` and branches on `reason`/`code`).
import { qualifiedName, type ResourceType } from './resources.js';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason: string; message: string; field?: string }[];
}

export class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }
}

/** The Status body of a failure. */
export function failureStatus(error: KubeError): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: error.reason,
    ...(error.details ? { details: error.details } : {}),
    code: error.code,
  };
}

/** The Status a DELETE answers with once the object is gone. */
export function successStatus(r: ResourceType, name: string, uid: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: detailsOf(r, name, uid) };
}

function detailsOf(r: ResourceType, name: string, uid?: string): StatusDetails {
  return { name, ...(r.group ? { group: r.group } : {}), kind: r.plural, ...(uid ? { uid } : {}) };
}

export const notFound = (r: ResourceType, name: string) =>
  new KubeError(404, 'NotFound', `${qualifiedName(r)} "${name}" not found`, detailsOf(r, name));

export const alreadyExists = (r: ResourceType, name: string) =>
  new KubeError(409, 'AlreadyExists', `${qualifiedName(r)} "${name}" already exists`, detailsOf(r, name));

export const conflict = (r: ResourceType, name: string) =>
  new KubeError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedName(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsOf(r, name),
  );

/** 422 with one cause per bad field, worded like the API server's field errors. */
export function invalid(r: ResourceType, name: string, causes: { field: string; message: string }[]): KubeError {
  const summary = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return new KubeError(422, 'Invalid', `${r.kind} "${name}" is invalid: ${summary}`, {
    ...detailsOf(r, name),
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

export const badRequest = (message: string) => new KubeError(400, 'BadRequest', message);
export const unauthorized = () => new KubeError(401, 'Unauthorized', 'Unauthorized');
export const methodNotAllowed = () => new KubeError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
export const pathNotFound = () => new KubeError(404, 'NotFound', 'the server could not find the requested resource');
export const unsupportedMediaType = (type: string) =>
  new KubeError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${type})`);
export const expired = (rv: string) => new KubeError(410, 'Expired', `too old resource version: ${rv}`);
