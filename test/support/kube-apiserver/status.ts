/**
 * `Status` bodies built the way k8s.io/apimachinery/pkg/api/errors builds them, with the keys in
 * the order Go serialises them (kind, apiVersion, metadata, status, message, reason, details,
 * code), so answers match the recorded fixtures byte for byte where the message does.
 */

export const LEASE_GROUP = 'coordination.k8s.io';
export const LEASE_RESOURCE = 'leases';
export const LEASE_KIND = 'Lease';
/** `schema.GroupResource.String()` for leases: how NotFound, Conflict, ... name the resource. */
export const LEASE_QUALIFIED_RESOURCE = `${LEASE_RESOURCE}.${LEASE_GROUP}`;

/** `schema.GroupResource`: which resource an error is about. */
export interface GroupResource {
  group: string;
  resource: string;
}

export const LEASES: GroupResource = { group: LEASE_GROUP, resource: LEASE_RESOURCE };
/** core/v1 pods: the core group is `""`, so messages say `pods "x"` and details carry no group. */
export const PODS: GroupResource = { group: '', resource: 'pods' };

/** `GroupResource.String()`: `leases.coordination.k8s.io`, or just `pods` for the core group. */
export const qualifiedResource = ({ group, resource }: GroupResource): string => (group ? `${resource}.${group}` : resource);

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** An error answer: the HTTP status is always the Status' `code`. */
export class StatusError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? String(status.code));
  }

  get code(): number {
    return this.status.code;
  }
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): Status {
  // Keys in Go's order; absent details stay absent (omitempty), not an `undefined` key.
  const head = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason } as const;
  return details ? { ...head, details, code } : { ...head, code };
}

/** Details in Go's field order, leaving out empty values as `omitempty` does. */
function details(parts: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (parts.name) out.name = parts.name;
  if (parts.group) out.group = parts.group;
  if (parts.kind) out.kind = parts.kind;
  if (parts.uid) out.uid = parts.uid;
  if (parts.causes) out.causes = parts.causes;
  if (parts.retryAfterSeconds) out.retryAfterSeconds = parts.retryAfterSeconds;
  return out;
}

const resourceDetails = (name: string, gr: GroupResource): StatusDetails =>
  details({ name, group: gr.group, kind: gr.resource });

/** Fixtures 01 and 19 (`errors.NewNotFound`); for pods: `pods "x" not found`, details without group. */
export function notFound(name: string, gr: GroupResource = LEASES): Status {
  return failure(404, 'NotFound', `${qualifiedResource(gr)} "${name}" not found`, resourceDetails(name, gr));
}

/** Fixture 03. */
export function alreadyExists(name: string, gr: GroupResource = LEASES): Status {
  return failure(409, 'AlreadyExists', `${qualifiedResource(gr)} "${name}" already exists`, resourceDetails(name, gr));
}

export const OPTIMISTIC_LOCK_MESSAGE =
  'the object has been modified; please apply your changes to the latest version and try again';

/** Fixture 06 (stale resourceVersion) and failed preconditions (`reason` then says which). */
export function conflict(name: string, reason: string = OPTIMISTIC_LOCK_MESSAGE, gr: GroupResource = LEASES): Status {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${reason}`,
    resourceDetails(name, gr),
  );
}

/** One `field.Error`, as `field.Invalid` / `field.Required` produce it. */
export interface FieldError {
  field: string;
  /** 'FieldValueInvalid' | 'FieldValueRequired' | ... */
  reason: string;
  /** `ErrorBody()`: e.g. `Invalid value: -3: must be greater than 0`. */
  body: string;
}

export function invalidValue(field: string, goValue: string, detail: string): FieldError {
  return { field, reason: 'FieldValueInvalid', body: `Invalid value: ${goValue}: ${detail}` };
}

export function requiredValue(field: string, detail: string): FieldError {
  return { field, reason: 'FieldValueRequired', body: detail ? `Required value: ${detail}` : 'Required value' };
}

/**
 * `errors.NewInvalid(qualifiedKind, name, errs)`. Validation names the kind (`Lease`, fixtures 08
 * and 12); the registry's own resourceVersion check names the resource (`leases`, fixture 09);
 * a patch that cannot be decoded names nothing at all (kind and name empty).
 */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): Status {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const aggregate =
    errors.length === 1
      ? `${errors[0].field}: ${errors[0].body}`
      : `[${errors.map((e) => `${e.field}: ${e.body}`).join(', ')}]`;
  const causes = errors.map((e) => ({ reason: e.reason, message: e.body, field: e.field }));
  return failure(
    422,
    'Invalid',
    `${qualifiedKind} ${goQuote(name)} is invalid: ${aggregate}`,
    details({ name, group, kind, causes }),
  );
}

/** Fixture 07 and every other 400: no details at all. */
export function badRequest(message: string): Status {
  return failure(400, 'BadRequest', message);
}

/** Fixture 13. */
export function unauthorized(): Status {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export interface ForbiddenAttributes {
  user: string;
  verb: string;
  /** Undefined for a non-resource request (a bare path). */
  resource?: { group: string; resource: string; namespace?: string; name?: string };
  path: string;
}

/**
 * Fixtures 14 and 15: `responsewriters.Forbidden` + `errors.NewForbidden`. The message names the
 * object only when the request named one (a GET of one Lease, or a list/watch whose field
 * selector pins `metadata.name`).
 */
export function forbidden(attributes: ForbiddenAttributes): Status {
  const { user, verb, resource, path } = attributes;
  if (!resource) {
    return failure(403, 'Forbidden', `forbidden: User ${goQuote(user)} cannot ${verb} path ${goQuote(path)}`, {});
  }
  const scope = resource.namespace ? `in the namespace ${goQuote(resource.namespace)}` : 'at the cluster scope';
  const reason =
    `User ${goQuote(user)} cannot ${verb} resource ${goQuote(resource.resource)} ` +
    `in API group ${goQuote(resource.group)} ${scope}`;
  const qualified = resource.group ? `${resource.resource}.${resource.group}` : resource.resource;
  const subject = resource.name ? `${qualified} ${goQuote(resource.name)}` : qualified;
  return failure(
    403,
    'Forbidden',
    `${subject} is forbidden: ${reason}`,
    details({ name: resource.name, group: resource.group, kind: resource.resource }),
  );
}

/** Fixture 20, carried in a watch ERROR event: `too old resource version: X (Y)`. */
export function expired(requested: string, oldestWatchable: number): Status {
  return failure(410, 'Expired', `too old resource version: ${requested} (${oldestWatchable})`);
}

/** What an apiserver (or the load balancer in front of it) answers while it cannot serve. */
export function serviceUnavailable(message = 'the server is currently unable to handle the request'): Status {
  return failure(503, 'ServiceUnavailable', message);
}

/** `errors.NewInternalError`. */
/**
 * apimachinery's NewTooManyRequests, as API Priority and Fairness rejects a request: 429 with
 * `details.retryAfterSeconds` (the server sends the same number in a `Retry-After` header).
 */
export function tooManyRequests(retryAfterSeconds: number): Status {
  return failure(429, 'TooManyRequests', 'Too many requests, please try again later.', details({ retryAfterSeconds }));
}

export function internalError(cause = 'injected fault'): Status {
  return failure(500, 'InternalError', `Internal error occurred: ${cause}`, {
    causes: [{ message: cause }],
  });
}

/** `errors.NewTimeoutError`, what the apiserver's request-timeout filter answers. */
export function gatewayTimeout(): Status {
  return failure(
    504,
    'Timeout',
    'Timeout: request did not complete within the allotted timeout',
    details({ retryAfterSeconds: 1 }),
  );
}

/** `negotiation.NewUnsupportedMediaTypeError`. */
export function unsupportedMediaType(accepted: readonly string[]): Status {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** `errors.NewMethodNotSupported`: e.g. `deletecollection`, which this server does not implement. */
export function methodNotSupported(action: string, gr: GroupResource = LEASES): Status {
  return failure(
    405,
    'MethodNotAllowed',
    `${action} is not supported on resources of kind ${goQuote(qualifiedResource(gr))}`,
    details({ group: gr.group, kind: gr.resource }),
  );
}

/** `errors.NewRequestEntityTooLargeError`, for bodies over the apiserver's 3 MiB limit. */
export function requestEntityTooLarge(limit: number): Status {
  return failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

/** What the apiserver's NotFound handler would say for a path it does not serve (as a Status). */
export function pathNotFound(): Status {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** A successful DELETE: the apiserver answers a Success Status naming the deleted object. */
export function deleteSuccess(name: string, uid: string, gr: GroupResource = LEASES): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: details({ name, group: gr.group, kind: gr.resource, uid }),
  } as Status;
}

/**
 * Go's `%q` (strconv.Quote) for the strings that appear in messages. JSON escaping is the same
 * except for control characters, which Go writes as `\x1f` rather than `\u001f`.
 */
export function goQuote(value: string): string {
  return JSON.stringify(value).replace(/\\u00([01][0-9a-f])/g, (_, hex: string) => `\\x${hex}`);
}
