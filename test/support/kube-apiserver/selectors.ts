import type { Lease } from './types.js';

/** A parsed `fieldSelector` / `labelSelector`, or the 400 message the apiserver would send. */
export type SelectorParse<T> = { ok: true; selector: T } | { ok: false; message: string };

export interface FieldRequirement {
  field: 'metadata.name' | 'metadata.namespace';
  equals: boolean;
  value: string;
}

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
 * `fieldSelector` for Leases: only `metadata.name` and `metadata.namespace` are known fields
 * (`runtime.DefaultMetaV1FieldSelectorConversion`), with `=`, `==` and `!=`.
 */
export function parseFieldSelector(selector: string | null): SelectorParse<FieldSelector> {
  const requirements: FieldRequirement[] = [];
  if (!selector) return { ok: true, selector: { requirements } };
  for (const term of splitTerms(selector, ',')) {
    // Go's splitTerm: the first operator wins, nothing is trimmed.
    const match = /^([^=!]*)(!=|==|=)(.*)$/.exec(term);
    if (!match) {
      return { ok: false, message: `invalid selector: '${selector}'; can't understand '${term}'` };
    }
    const [, field, operator, rawValue] = match;
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      return {
        ok: false,
        message: `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      };
    }
    requirements.push({ field, equals: operator !== '!=', value: unescapeValue(rawValue) });
  }
  const pinned = requirements.find((r) => r.field === 'metadata.name' && r.equals);
  return { ok: true, selector: { requirements, exactName: pinned?.value } };
}

export function matchesFieldSelector(selector: FieldSelector, lease: Lease): boolean {
  return selector.requirements.every((r) => {
    const actual = r.field === 'metadata.name' ? lease.metadata.name : lease.metadata.namespace;
    return (actual === r.value) === r.equals;
  });
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

export function matchesLabelSelector(selector: LabelSelector, lease: Lease): boolean {
  const labels = lease.metadata.labels ?? {};
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
