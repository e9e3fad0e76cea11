import type { RequestInfo } from './request-info.js';
import type { RbacRule } from './types.js';

const DEFAULT_RESOURCES = ['leases'];

const includes = (list: readonly string[], value: string): boolean => list.includes('*') || list.includes(value);

/**
 * RBAC's rule matching (`RuleAllows`) for the flattened rules of `addUser`. `undefined` rules
 * mean a user bound to cluster-admin. Like RBAC, `resourceNames` only matches requests that
 * carry a name, so it can never allow a `create` by POST, nor a list/watch without a
 * `metadata.name` field selector; non-resource URLs (anything outside /api and /apis resources)
 * are only allowed to users without rules.
 */
export function isAllowed(rules: readonly RbacRule[] | undefined, info: RequestInfo): boolean {
  if (!rules) return true;
  if (!info.isResourceRequest) return false;
  const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  return rules.some(
    (rule) =>
      includes(rule.verbs, info.verb) &&
      (!rule.apiGroups || includes(rule.apiGroups, info.apiGroup)) &&
      includes(rule.resources ?? DEFAULT_RESOURCES, resource) &&
      (!rule.namespaces || includes(rule.namespaces, info.namespace)) &&
      (!rule.resourceNames || rule.resourceNames.length === 0 || (info.name !== '' && rule.resourceNames.includes(info.name))),
  );
}
