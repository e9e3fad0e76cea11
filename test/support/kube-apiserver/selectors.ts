import type { KubeObject } from './types.js';

/** A parsed `fieldSelector` / `labelSelector`, or the 400 message the apiserver would send. */
export type SelectorParse<T> = { ok: true; selector: T } | { ok: false; message: string };

export interface FieldRequirement {
  /** A field the resource's `SelectableFields` knows (any field, for a generic parse). */
  field: string;
  equals: boolean;
  value: string;
}

/** What a resource lets a `fieldSelector` name (the apiserver's field label conversion and `GetAttrs`). */
export interface SelectableFields {
  readonly names: readonly string[];
  /** Old names the conversion accepts and rewrites (pods: `spec.host` is `spec.nodeName`). */
  readonly aliases?: Readonly<Record<string, string>>;
  /** The 400 message for a field it does not know. */
  unknown(field: string): string;
  /** The field values of one object (a missing field reads as `""`, as a Go `fields.Set` does). */
  values(object: KubeObject): Record<string, string>;
}

/** Leases: `runtime.DefaultMetaV1FieldSelectorConversion`. */
export const LEASE_FIELDS: SelectableFields = {
  names: ['metadata.name', 'metadata.namespace'],
  unknown: (field) => `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
  values: (object) => ({ 'metadata.name': object.metadata.name, 'metadata.namespace': object.metadata.namespace }),
};

export interface FieldSelector {
  requirements: FieldRequirement[];
  /** The name an `=`/`==` requirement pins, which RBAC then authorises the list/watch against. */
  exactName?: string;
}

/** Splits on `separator` outside backslash escapes (Go's fields.ParseSelector grammar). */
function splitTerms(selector: string, separator: string): string[] {
  const terms: string[] = [];
  let current = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '\\' && i + 1 < selector.length) {
      current += c + selector[++i];
    } else if (c === separator) {
      terms.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  terms.push(current);
  return terms;
}

const unescapeValue = (value: string): string => value.replace(/\\(.)/g, '$1');

/**
 * A `fieldSelector` with `=`, `==` and `!=`, checked against the fields `fields` knows (for
 * Leases only `metadata.name` and `metadata.namespace`). Without `fields`, any field name is
 * accepted, as `fields.ParseSelector` does where the RequestInfoFactory looks for a name.
 */
export function parseFieldSelector(selector: string | null, fields?: SelectableFields): SelectorParse<FieldSelector> {
  const requirements: FieldRequirement[] = [];
  if (!selector) return { ok: true, selector: { requirements } };
  for (const term of splitTerms(selector, ',')) {
    // Go's splitTerm: the first operator wins, nothing is trimmed.
    const match = /^([^=!]*)(!=|==|=)(.*)$/.exec(term);
    if (!match) {
      return { ok: false, message: `invalid selector: '${selector}'; can't understand '${term}'` };
    }
    const [, written, operator, rawValue] = match;
    const field = fields?.aliases?.[written] ?? written;
    if (fields && !fields.names.includes(field)) return { ok: false, message: fields.unknown(written) };
    requirements.push({ field, equals: operator !== '!=', value: unescapeValue(rawValue) });
  }
  const pinned = requirements.find((r) => r.field === 'metadata.name' && r.equals);
  return { ok: true, selector: { requirements, exactName: pinned?.value } };
}

export function matchesFieldSelector(selector: FieldSelector, object: KubeObject, fields: SelectableFields = LEASE_FIELDS): boolean {
  if (selector.requirements.length === 0) return true;
  const values = fields.values(object);
  return selector.requirements.every((r) => ((values[r.field] ?? '') === r.value) === r.equals);
}

type LabelRequirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

export type LabelSelector = LabelRequirement[];

/** Splits on commas that are not inside `(...)`, for set-based requirements. */
function splitLabelTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of selector) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  terms.push(current);
  return terms;
}

/** `labelSelector`: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`. */
export function parseLabelSelector(selector: string | null): SelectorParse<LabelSelector> {
  const requirements: LabelSelector = [];
  if (!selector) return { ok: true, selector: requirements };
  for (const rawTerm of splitLabelTerms(selector)) {
    const term = rawTerm.trim();
    let match: RegExpExecArray | null;
    if ((match = /^!\s*([\w./-]+)$/.exec(term))) {
      requirements.push({ key: match[1], op: 'notexists' });
    } else if ((match = /^([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)$/.exec(term))) {
      requirements.push({ key: match[1], op: match[2] === '!=' ? 'notin' : 'in', values: [match[3]] });
    } else if ((match = /^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term))) {
      const values = match[3].split(',').map((v) => v.trim());
      requirements.push({ key: match[1], op: match[2] as 'in' | 'notin', values });
    } else if ((match = /^([\w./-]+)$/.exec(term))) {
      requirements.push({ key: match[1], op: 'exists' });
    } else {
      return { ok: false, message: `unable to parse requirement: invalid label selector term: '${term}'` };
    }
  }
  return { ok: true, selector: requirements };
}

export function matchesLabelSelector(selector: LabelSelector, object: KubeObject): boolean {
  const labels = object.metadata.labels ?? {};
  return selector.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'notexists':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]);
    }
  });
}
