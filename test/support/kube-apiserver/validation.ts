import type { DecodedLease } from './lease-codec.js';
import { type FieldError, goQuote, invalidValue, requiredValue } from './status.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
const DNS1123_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " +
  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation " +
  "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** `ValidateObjectMeta`'s name check for Leases (`NameIsDNSSubdomain`), fixture 12. */
export function validateLeaseName(name: string | undefined): FieldError[] {
  if (!name) return [requiredValue('metadata.name', 'name or generateName is required')];
  const errors: FieldError[] = [];
  if (name.length > DNS1123_SUBDOMAIN_MAX_LENGTH) {
    errors.push(invalidValue('metadata.name', goQuote(name), `must be no more than ${DNS1123_SUBDOMAIN_MAX_LENGTH} characters`));
  }
  if (!DNS1123_SUBDOMAIN.test(name)) {
    errors.push(invalidValue('metadata.name', goQuote(name), DNS1123_SUBDOMAIN_MESSAGE));
  }
  return errors;
}

/** `ValidateLeaseSpec` (pkg/apis/coordination/validation), fixture 08. */
export function validateLeaseSpec(spec: DecodedLease['spec']): FieldError[] {
  const errors: FieldError[] = [];
  if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds <= 0) {
    errors.push(invalidValue('spec.leaseDurationSeconds', String(spec.leaseDurationSeconds), 'must be greater than 0'));
  }
  if (spec.leaseTransitions !== undefined && spec.leaseTransitions < 0) {
    errors.push(invalidValue('spec.leaseTransitions', String(spec.leaseTransitions), 'must be greater than or equal to 0'));
  }
  return errors;
}

/** Everything `leaseStrategy.Validate` / `ValidateUpdate` checks that this server models. */
export function validateLease(lease: DecodedLease): FieldError[] {
  return [...validateLeaseName(lease.metadata.name), ...validateLeaseSpec(lease.spec)];
}
