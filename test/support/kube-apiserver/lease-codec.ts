import { jsoniterContext, locateValue } from './json-locator.js';
import { parseMicroTime } from './micro-time.js';
import type { JsonObject, JsonValue, LeaseSpec } from './types.js';

/** The parts of a request body the apiserver keeps, after decoding into a `v1.Lease`. */
export interface DecodedLease {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: JsonObject[];
  };
  /** Null fields dropped (Go's nil pointers), MicroTimes rewritten in UTC with 6 digits. */
  spec: LeaseSpec;
  /** Dotted paths of fields a `v1.Lease` does not have; the apiserver drops them. */
  unknownFields: string[];
}

export type DecodeOutcome = { ok: true; lease: DecodedLease } | { ok: false; error: string };

/** Thrown inside the decoder; carries json-iterator's error text as it is built up. */
class DecodeFailure extends Error {}

type Decode = (value: JsonValue, path: string[]) => void;
interface Field {
  /** The Go struct field's name, which json-iterator puts in its error chain. */
  go: string;
  decode: Decode;
}

const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

const isObject = (value: JsonValue): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The byte json-iterator reports when a token is not what it expected. */
const firstByte = (value: JsonValue): string => JSON.stringify(value)[0];

const goJsonType = (value: JsonValue): string =>
  Array.isArray(value) ? 'array' : typeof value === 'boolean' ? 'bool' : typeof value === 'object' ? 'object' : typeof value;

/**
 * Decodes a request body into the fields of a `v1.Lease` the way the apiserver's JSON decoder
 * (json-iterator, in the 1.20 server the fixtures were recorded from) does, so that a body the
 * apiserver refuses is refused here with the same error text, e.g. fixture 07:
 * `v1.Lease.Spec: v1.LeaseSpec.RenewTime: AcquireTime: unmarshalerDecoder: parsing time ...`.
 *
 * `text` is the JSON the decoder read (the request body, or the patched object for a PATCH): the
 * error quotes the bytes around the failure.
 */
export function decodeLease(body: JsonObject, text: string): DecodeOutcome {
  const unknownFields: string[] = [];
  const metadata: DecodedLease['metadata'] = {};
  const spec: LeaseSpec = {};
  const lease: DecodedLease = { metadata, spec, unknownFields };

  const fail = (path: string[], headAtEnd: boolean, message: string): never => {
    const span = locateValue(text, path);
    const context = span ? `, ${jsoniterContext(text, headAtEnd ? span.end : span.start + 1)}` : '';
    throw new DecodeFailure(`${message}${context}`);
  };

  const readString: (assign: (value: string) => void) => Decode = (assign) => (value, path) => {
    if (value === null) return;
    if (typeof value !== 'string') fail(path, false, `ReadString: expects " or n, but found ${firstByte(value)}`);
    assign(value as string);
  };

  const readInt32: (assign: (value: number) => void) => Decode = (assign) => (value, path) => {
    if (value === null) return;
    const span = locateValue(text, path);
    const token = span ? text.slice(span.start, span.end) : JSON.stringify(value);
    if (typeof value !== 'number') fail(path, false, 'readUint32: unexpected character: \ufffd');
    if (!/^-?\d+$/.test(token)) fail(path, false, 'assertInteger: can not decode float as int');
    const magnitude = Math.abs(value as number);
    if (magnitude > UINT32_MAX) fail(path, true, 'readUint32: overflow');
    if ((value as number) > INT32_MAX || (value as number) < -INT32_MAX - 1) {
      fail(path, true, `ReadInt32: overflow: ${magnitude}`);
    }
    assign(value as number);
  };

  /** `metav1.MicroTime`, decoded by its UnmarshalJSON through json-iterator's unmarshalerDecoder. */
  const readMicroTime: (assign: (value: string) => void) => Decode = (assign) => (value, path) => {
    if (value === null) return;
    if (typeof value !== 'string') {
      fail(path, true, `unmarshalerDecoder: json: cannot unmarshal ${goJsonType(value)} into Go value of type string`);
    }
    const parsed = parseMicroTime(value as string);
    if (!parsed.ok) fail(path, true, `unmarshalerDecoder: ${parsed.error}`);
    else assign(parsed.canonical);
  };

  const readStringMap: (assign: (value: Record<string, string>) => void) => Decode = (assign) => (value, path) => {
    if (value === null) return;
    if (!isObject(value)) fail(path, false, `ReadMapCB: expect { or n, but found ${firstByte(value)}`);
    const map: Record<string, string> = {};
    for (const [key, entry] of Object.entries(value as JsonObject)) {
      if (typeof entry !== 'string') fail([...path, key], false, `ReadString: expects " or n, but found ${firstByte(entry)}`);
      map[key] = entry as string;
    }
    if (Object.keys(map).length > 0) assign(map);
  };

  const readObjectList: (assign: (value: JsonObject[]) => void) => Decode = (assign) => (value, path) => {
    if (value === null) return;
    if (!Array.isArray(value) || !value.every(isObject)) {
      fail(path, false, `decode slice: expect [ or n, but found ${firstByte(value)}`);
    }
    if ((value as JsonObject[]).length > 0) assign(value as JsonObject[]);
  };

  /** Fields a Lease has but this server does not keep: accepted and dropped. */
  const ignored: Decode = () => undefined;

  /**
   * A Go struct. On a failure json-iterator wraps the error with the failing field's name, and
   * then (its read head now misplaced, because `unreadByte` is a no-op once an error is set) reads
   * one more key and wraps again with that field's name before giving up: hence fixture 07's
   * `RenewTime: AcquireTime: ...` for a failure in acquireTime.
   */
  const struct = (typeName: string, fields: Record<string, Field>): Decode => (value, path) => {
    if (value === null) return;
    if (!isObject(value)) fail(path, false, `readObjectStart: expect { or n, but found ${firstByte(value)}`);
    const object = value as JsonObject;
    const keys = Object.keys(object);
    keys.forEach((key, index) => {
      const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
      if (!field) {
        unknownFields.push([...path, key].join('.'));
        return;
      }
      try {
        field.decode(object[key], [...path, key]);
      } catch (error) {
        if (!(error instanceof DecodeFailure)) throw error;
        let message = `${field.go}: ${error.message}`;
        const nextKey = keys[index + 1];
        const next = nextKey !== undefined && Object.hasOwn(fields, nextKey) ? fields[nextKey] : undefined;
        if (next) message = `${next.go}: ${message}`;
        throw new DecodeFailure(`${typeName}.${message}`);
      }
    });
  };

  const objectMeta = struct('v1.ObjectMeta', {
    name: { go: 'Name', decode: readString((v) => (metadata.name = v)) },
    generateName: { go: 'GenerateName', decode: ignored },
    namespace: { go: 'Namespace', decode: readString((v) => (metadata.namespace = v)) },
    selfLink: { go: 'SelfLink', decode: ignored },
    uid: { go: 'UID', decode: readString((v) => (metadata.uid = v)) },
    resourceVersion: { go: 'ResourceVersion', decode: readString((v) => (metadata.resourceVersion = v)) },
    generation: { go: 'Generation', decode: ignored },
    creationTimestamp: { go: 'CreationTimestamp', decode: ignored },
    deletionTimestamp: { go: 'DeletionTimestamp', decode: ignored },
    deletionGracePeriodSeconds: { go: 'DeletionGracePeriodSeconds', decode: ignored },
    labels: { go: 'Labels', decode: readStringMap((v) => (metadata.labels = v)) },
    annotations: { go: 'Annotations', decode: readStringMap((v) => (metadata.annotations = v)) },
    ownerReferences: { go: 'OwnerReferences', decode: readObjectList((v) => (metadata.ownerReferences = v)) },
    finalizers: { go: 'Finalizers', decode: ignored },
    managedFields: { go: 'ManagedFields', decode: ignored },
  });

  const leaseSpec = struct('v1.LeaseSpec', {
    holderIdentity: { go: 'HolderIdentity', decode: readString((v) => (spec.holderIdentity = v)) },
    leaseDurationSeconds: { go: 'LeaseDurationSeconds', decode: readInt32((v) => (spec.leaseDurationSeconds = v)) },
    acquireTime: { go: 'AcquireTime', decode: readMicroTime((v) => (spec.acquireTime = v)) },
    renewTime: { go: 'RenewTime', decode: readMicroTime((v) => (spec.renewTime = v)) },
    leaseTransitions: { go: 'LeaseTransitions', decode: readInt32((v) => (spec.leaseTransitions = v)) },
    strategy: { go: 'Strategy', decode: readString((v) => (spec.strategy = v)) },
    preferredHolder: { go: 'PreferredHolder', decode: readString((v) => (spec.preferredHolder = v)) },
  });

  const leaseStruct = struct('v1.Lease', {
    kind: { go: 'Kind', decode: readString((v) => (lease.kind = v)) },
    apiVersion: { go: 'APIVersion', decode: readString((v) => (lease.apiVersion = v)) },
    metadata: { go: 'ObjectMeta', decode: objectMeta },
    spec: { go: 'Spec', decode: leaseSpec },
  });

  try {
    leaseStruct(body, []);
  } catch (error) {
    if (error instanceof DecodeFailure) return { ok: false, error: error.message };
    throw error;
  }
  return { ok: true, lease };
}
