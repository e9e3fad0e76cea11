import { parseFieldSelector } from './selectors.js';

/** What the apiserver's RequestInfoFactory makes of a request: the input to authorization. */
export type RequestInfo = ResourceRequestInfo | NonResourceRequestInfo;

export interface ResourceRequestInfo {
  isResourceRequest: true;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection, or ''. */
  verb: string;
  apiPrefix: 'api' | 'apis';
  apiGroup: string;
  apiVersion: string;
  /** '' for cluster-scoped requests. */
  namespace: string;
  resource: string;
  subresource: string;
  /** From the path, or for list/watch from a `metadata.name=` field selector (see below). */
  name: string;
  /** Path segments after the resource name and subresource (none in a well-formed request). */
  extraParts: string[];
}

export interface NonResourceRequestInfo {
  isResourceRequest: false;
  /** The lower-cased HTTP method, as for non-resource URLs. */
  verb: string;
  path: string;
}

const METHOD_VERBS: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** Go's `path.IsValidPathSegmentName`. */
const isValidPathSegmentName = (name: string): boolean =>
  name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');

/** A bool query parameter as the apiserver reads it: absent, `0`, `f` or `false` are false. */
export function queryFlag(query: URLSearchParams, key: string): boolean {
  const value = query.get(key);
  if (value === null) return false;
  return !['0', 'f', 'false'].includes(value.toLowerCase());
}

/**
 * Mirrors `k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory.NewRequestInfo`, including
 * its two rewrites for collection GETs: the verb becomes `list` or `watch`, and a field selector
 * that pins `metadata.name` becomes the request's name, so that an RBAC rule with
 * `resourceNames` can allow a list or watch of exactly that object.
 */
export function requestInfoFor(method: string, pathname: string, query: URLSearchParams): RequestInfo {
  const nonResource: NonResourceRequestInfo = { isResourceRequest: false, verb: method.toLowerCase(), path: pathname };
  const trimmed = pathname.replace(/^\/+|\/+$/g, '');
  const parts = trimmed === '' ? [] : trimmed.split('/');
  const prefix = parts[0];
  if (prefix !== 'api' && prefix !== 'apis') return nonResource;
  let rest: string[];
  let apiGroup = '';
  let apiVersion: string;
  if (prefix === 'apis') {
    if (parts.length < 3) return nonResource; // discovery: /apis, /apis/group
    [apiGroup, apiVersion] = [parts[1], parts[2]];
    rest = parts.slice(3);
  } else {
    if (parts.length < 2) return nonResource; // discovery: /api
    apiVersion = parts[1];
    rest = parts.slice(2);
  }
  if (rest.length === 0) return nonResource; // discovery: resource list of a group version

  let verb = METHOD_VERBS[method] ?? '';
  if (rest[0] === 'watch') {
    // The deprecated /watch/ path prefix.
    verb = 'watch';
    rest = rest.slice(1);
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    // /namespaces/{ns} alone (or /status, /finalize) is a request on the Namespace object itself.
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  const [resource = '', name = '', subresource = '', ...extraParts] = rest;
  const info: ResourceRequestInfo = {
    isResourceRequest: true,
    verb,
    apiPrefix: prefix,
    apiGroup,
    apiVersion,
    namespace,
    resource,
    subresource,
    name,
    extraParts,
  };
  if (!info.name && info.verb === 'get') {
    info.verb = queryFlag(query, 'watch') ? 'watch' : 'list';
    const selector = parseFieldSelector(query.get('fieldSelector'));
    if (selector.ok && selector.selector.exactName && isValidPathSegmentName(selector.selector.exactName)) {
      info.name = selector.selector.exactName;
    }
  }
  if (!info.name && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}
