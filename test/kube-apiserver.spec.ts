import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import {
  ApiException,
  type ConfigurationOptions,
  CoordinationV1Api,
  Health,
  type KubeConfig,
  Observable,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
  V1MicroTime,
  type V1Lease,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { KubeApiServer, type Lease, type RbacRule, type RequestEventInfo, selfSignedCertificate } from './support/kube-apiserver/index.js';

// --- fixtures --------------------------------------------------------------------------------

interface Fixture {
  request: { method: string; path: string; body: Record<string, unknown> | null };
  response: { status: number; contentType: string; body: Record<string, unknown> };
}

const fixtureUrl = (file: string): URL => new URL(`./fixtures/kube-apiserver/${file}`, import.meta.url);
const fixture = (file: string): Fixture => JSON.parse(readFileSync(fixtureUrl(file), 'utf8')) as Fixture;
const fixtureBody = (file: string): any => fixture(file).response.body;
const fixtureRequestBody = (file: string): any => structuredClone(fixture(file).request.body);

const NS = 'default';
const NAME = 'fixture-lease';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const leasePath = (name: string, namespace = NS): string => `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;

/** The Role the fixtures' `le-user` had: everything on leases in `default`, nothing else. */
const LE_USER_RULES: RbacRule[] = [
  { verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], namespaces: ['default'] },
];

// --- helpers ---------------------------------------------------------------------------------

let server: KubeApiServer;
let adminToken: string;
let admin: CoordinationV1Api;
const openWatches: WatchStream[] = [];

interface RawAnswer {
  status: number;
  contentType: string | null;
  text: string;
  json: any;
  headers: Headers;
}

/** Plain fetch, for exact status, headers and bytes. */
async function raw(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; contentType?: string; userAgent?: string; signal?: AbortSignal } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? adminToken : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
  if (options.userAgent) headers['User-Agent'] = options.userAgent;
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    signal: options.signal,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, contentType: response.headers.get('content-type'), text, json, headers: response.headers };
}

/** The ApiException a client-node call fails with, its body parsed. */
async function apiError(call: Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = error.body === undefined ? undefined : JSON.parse(error.body as string);
    return { code: error.code, body };
  }
  throw new Error('expected the call to fail');
}

/** Asserts a Status has the fixture's status code, reason, code and shape of details. */
function expectStatusLike(actual: any, expected: any): void {
  expect(actual.kind).toBe('Status');
  expect(actual.apiVersion).toBe('v1');
  expect(actual.metadata).toEqual({});
  expect(actual.status).toBe(expected.status);
  expect(actual.reason).toBe(expected.reason);
  expect(actual.code).toBe(expected.code);
  expect(Object.keys(actual)).toEqual(Object.keys(expected));
  if (expected.details) {
    expect(Object.keys(actual.details)).toEqual(Object.keys(expected.details));
    expect(actual.details.group).toBe(expected.details.group);
    expect(actual.details.kind).toBe(expected.details.kind);
    for (const [index, cause] of (expected.details.causes ?? []).entries()) {
      expect(actual.details.causes[index].reason).toBe(cause.reason);
      expect(actual.details.causes[index].field).toBe(cause.field);
    }
  }
}

/** A client-node request option that aborts the request after `ms` (requestContext.setSignal). */
function abortAfter(ms: number): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(AbortSignal.timeout(ms));
          return new Observable(Promise.resolve(context));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

interface WatchEvent {
  type: string;
  object: any;
}

/** A client-node `Watch`, with its events queued so a test can await them one by one. */
class WatchStream {
  readonly events: WatchEvent[] = [];
  readonly done: Promise<unknown>;
  private cursor = 0;
  private wake: (() => void) | undefined;
  private settle!: (error: unknown) => void;
  private controller: AbortController | undefined;

  private constructor() {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  static async open(kubeConfig: KubeConfig, query: Record<string, string | number | boolean> = {}): Promise<WatchStream> {
    const stream = new WatchStream();
    openWatches.push(stream);
    stream.controller = await new Watch(kubeConfig).watch(
      LEASES,
      query,
      (type, object) => {
        stream.events.push({ type, object });
        stream.wake?.();
      },
      (error) => {
        stream.settle(error);
        stream.wake?.();
      },
    );
    return stream;
  }

  /** The next event not yet taken (waits for it). */
  async next(): Promise<WatchEvent> {
    while (this.cursor >= this.events.length) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.events[this.cursor++];
  }

  abort(): void {
    this.controller?.abort();
  }
}

const now = (): string => new V1MicroTime().toISOString();

function leaseBody(name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, ...metadata },
    spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 15, acquireTime: now(), renewTime: now(), leaseTransitions: 0, ...spec } as unknown as V1Lease['spec'],
  };
}

/** Creates the fixture Lease as fixture 02 did (with curl's User-Agent, so the manager is "curl"). */
async function createFixtureLease(): Promise<any> {
  const answer = await raw('POST', LEASES, { body: fixtureRequestBody('02-create.json'), userAgent: 'curl/8.5.0' });
  expect(answer.status).toBe(201);
  return answer.json;
}

beforeEach(async () => {
  server = await KubeApiServer.start();
  adminToken = server.addUser('admin');
  admin = server.kubeConfig('admin').makeApiClient(CoordinationV1Api);
});

afterEach(async () => {
  for (const watch of openWatches.splice(0)) watch.abort();
  await server.close();
});

// --- the recorded answers, one by one ----------------------------------------------------------

describe('answers like the recorded kube-apiserver (fixtures 01-20)', () => {
  it('01: GET of a missing Lease is 404 NotFound', async () => {
    const { code, body } = await apiError(admin.readNamespacedLease({ name: NAME, namespace: NS }));
    expect(code).toBe(404);
    expect(body).toEqual(fixtureBody('01-get-missing.json'));
  });

  it('02: POST creates with server-set uid, resourceVersion, creationTimestamp and managedFields', async () => {
    const answer = await raw('POST', LEASES, { body: fixtureRequestBody('02-create.json'), userAgent: 'curl/8.5.0' });
    expect(answer.status).toBe(201);
    expect(answer.contentType).toBe('application/json');
    const created = answer.json;
    expect(created.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Byte for byte the fixture, once the server-chosen values are put in.
    const expected = fixtureBody('02-create.json');
    expected.metadata.uid = created.metadata.uid;
    expected.metadata.resourceVersion = created.metadata.resourceVersion;
    expected.metadata.creationTimestamp = created.metadata.creationTimestamp;
    expected.metadata.managedFields[0].time = created.metadata.creationTimestamp;
    expect(answer.text).toBe(JSON.stringify(expected));
  });

  it('02: client-node creates too, and the manager comes from its User-Agent', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('from-client') });
    expect(created.metadata?.managedFields?.[0].manager).toBe('node-fetch');
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(100);
  });

  it('03: POST of an existing name is 409 AlreadyExists', async () => {
    await createFixtureLease();
    const { code, body } = await apiError(
      admin.createNamespacedLease({ namespace: NS, body: fixtureRequestBody('03-create-exists.json') }),
    );
    expect(code).toBe(409);
    expect(body).toEqual(fixtureBody('03-create-exists.json'));
  });

  it('04: GET answers the stored object, as created', async () => {
    const created = await createFixtureLease();
    const answer = await raw('GET', leasePath(NAME));
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual(created);
    expect(Object.keys(answer.json.metadata)).toEqual(Object.keys(fixtureBody('04-get.json').metadata));
    const lease = await admin.readNamespacedLease({ name: NAME, namespace: NS });
    expect(lease.spec?.holderIdentity).toBe('pod-a');
  });

  it('05: PUT with the current resourceVersion renews: 200, a new resourceVersion, managedFields time kept', async () => {
    const created = await createFixtureLease();
    const body = fixtureRequestBody('05-update-renew.json');
    body.metadata.resourceVersion = created.metadata.resourceVersion;
    const answer = await raw('PUT', leasePath(NAME), { body, userAgent: 'curl/8.5.0' });
    expect(answer.status).toBe(200);
    expect(Number(answer.json.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(answer.json.metadata.uid).toBe(created.metadata.uid);
    expect(answer.json.metadata.creationTimestamp).toBe(created.metadata.creationTimestamp);
    expect(answer.json.spec).toEqual(fixtureBody('05-update-renew.json').spec);
    // As in the fixture: the manager's set of fields did not change, so neither did its time.
    expect(answer.json.metadata.managedFields).toEqual(created.metadata.managedFields);
  });

  it('06: PUT with a stale resourceVersion is 409 Conflict and leaves the object unchanged', async () => {
    const created = await createFixtureLease();
    const renewed = await admin.replaceNamespacedLease({
      name: NAME,
      namespace: NS,
      body: { ...created, spec: { ...created.spec, renewTime: now() } },
    });
    const before = server.getLease(NS, NAME);
    const stale = fixtureRequestBody('06-update-stale-conflict.json');
    stale.metadata.resourceVersion = created.metadata.resourceVersion;
    const { code, body } = await apiError(admin.replaceNamespacedLease({ name: NAME, namespace: NS, body: stale }));
    expect(code).toBe(409);
    expect(body).toEqual(fixtureBody('06-update-stale-conflict.json'));
    expect(server.getLease(NS, NAME)).toEqual(before);
    expect(before?.metadata.resourceVersion).toBe(renewed.metadata?.resourceVersion);
  });

  it('07: a MicroTime with 3 fractional digits is 400 BadRequest, worded as the apiserver words it', async () => {
    const created = await createFixtureLease();
    const body = fixtureRequestBody('07-update-millis-microtime.json');
    body.metadata.resourceVersion = created.metadata.resourceVersion;
    const answer = await raw('PUT', leasePath(NAME), { body });
    expect(answer.status).toBe(400);
    // Same bytes around the failure as the recorded request, so the same message, to the byte.
    expect(answer.json).toEqual(fixtureBody('07-update-millis-microtime.json'));
  });

  it('07: client-node serialises a JS Date with 3 digits, which is refused; V1MicroTime is accepted', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('dates') });
    const withDate = structuredClone(created);
    withDate.spec!.renewTime = new Date() as V1MicroTime;
    const { code, body } = await apiError(admin.replaceNamespacedLease({ name: 'dates', namespace: NS, body: withDate }));
    expect(code).toBe(400);
    expectStatusLike(body, fixtureBody('07-update-millis-microtime.json'));
    expect(body.message).toMatch(
      /^Lease in version "v1" cannot be handled as a Lease: v1\.Lease\.Spec: v1\.LeaseSpec\.\w+: (\w+: )?unmarshalerDecoder: parsing time "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z" as "2006-01-02T15:04:05\.000000Z07:00": cannot parse "\.\d{3}Z" as "\.000000", error found in #10 byte of /,
    );
    const withMicroTime = structuredClone(created);
    withMicroTime.spec!.renewTime = new V1MicroTime();
    const renewed = await admin.replaceNamespacedLease({ name: 'dates', namespace: NS, body: withMicroTime });
    expect(server.getLease(NS, 'dates')?.spec.renewTime).toMatch(/\.\d{6}Z$/);
    expect(renewed.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);
  });

  it('07: a MicroTime with an offset is accepted and stored in UTC; other malformed times are refused', async () => {
    const created = await admin.createNamespacedLease({
      namespace: NS,
      body: leaseBody('offset', { renewTime: '2026-11-24T10:38:18.674369+01:00' }),
    });
    expect(created.spec?.renewTime as unknown).toBe('2026-11-24T09:38:18.674369Z');
    for (const [value, detail] of [
      ['2026-11-24T09:38:18Z', 'cannot parse "Z" as ".000000"'],
      ['2026-11-24T09:38:18.6743691Z', 'cannot parse "1Z" as "Z07:00"'],
      ['2026-13-24T09:38:18.674369Z', 'parsing time "2026-13-24T09:38:18.674369Z": month out of range'],
      ['2026-02-30T09:38:18.674369Z', 'parsing time "2026-02-30T09:38:18.674369Z": day out of range'],
    ]) {
      const answer = await raw('POST', LEASES, { body: leaseBody('bad-time', { renewTime: value }) });
      expect(answer.status).toBe(400);
      expect(answer.json.reason).toBe('BadRequest');
      expect(answer.json.message).toContain(detail);
    }
  });

  it('08: leaseDurationSeconds -3 is 422 Invalid with details.causes', async () => {
    const created = await createFixtureLease();
    const body = fixtureRequestBody('08-update-invalid-duration.json');
    body.metadata.resourceVersion = created.metadata.resourceVersion;
    const { code, body: status } = await apiError(admin.replaceNamespacedLease({ name: NAME, namespace: NS, body }));
    expect(code).toBe(422);
    expect(status).toEqual(fixtureBody('08-update-invalid-duration.json'));
  });

  it('08: a negative leaseTransitions is 422 too', async () => {
    const answer = await raw('POST', LEASES, { body: leaseBody('transitions', { leaseTransitions: -1 }) });
    expect(answer.status).toBe(422);
    expect(answer.json.message).toBe(
      'Lease.coordination.k8s.io "transitions" is invalid: spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0',
    );
    expect(answer.json.details.causes).toEqual([
      { reason: 'FieldValueInvalid', message: 'Invalid value: -1: must be greater than or equal to 0', field: 'spec.leaseTransitions' },
    ]);
  });

  it('09: PUT without resourceVersion is 422 Invalid (no unconditional update)', async () => {
    await createFixtureLease();
    const { code, body } = await apiError(
      admin.replaceNamespacedLease({ name: NAME, namespace: NS, body: fixtureRequestBody('09-update-no-resourceversion.json') }),
    );
    expect(code).toBe(422);
    expect(body).toEqual(fixtureBody('09-update-no-resourceversion.json'));
  });

  it('10: PATCH with a JSON merge patch', async () => {
    const created = await createFixtureLease();
    const answer = await raw('PATCH', leasePath(NAME), {
      body: fixtureRequestBody('10-patch-merge.json'),
      contentType: 'application/merge-patch+json',
      userAgent: 'curl/8.5.0',
    });
    expect(answer.status).toBe(200);
    const expected = fixtureBody('10-patch-merge.json');
    expected.metadata.uid = created.metadata.uid;
    expected.metadata.resourceVersion = answer.json.metadata.resourceVersion;
    expected.metadata.creationTimestamp = created.metadata.creationTimestamp;
    expected.metadata.managedFields[0].time = answer.json.metadata.managedFields[0].time;
    expected.spec = created.spec;
    expect(answer.text).toBe(JSON.stringify(expected));
    expect(Number(answer.json.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));

    const patched = await admin.patchNamespacedLease(
      { name: NAME, namespace: NS, body: { metadata: { annotations: { 'example.com/last-run': null } }, spec: { holderIdentity: 'pod-b' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.metadata?.annotations).toBeUndefined();
    expect(patched.spec?.holderIdentity).toBe('pod-b');
  });

  it('11: release with holderIdentity "" and leaseDurationSeconds 1 is 200, the empty holder kept', async () => {
    await createFixtureLease();
    const patched = await raw('PATCH', leasePath(NAME), {
      body: fixtureRequestBody('10-patch-merge.json'),
      contentType: 'application/merge-patch+json',
      userAgent: 'curl/8.5.0',
    });
    const body = fixtureRequestBody('11-release-empty-holder.json');
    body.metadata.resourceVersion = patched.json.metadata.resourceVersion;
    const answer = await raw('PUT', leasePath(NAME), { body, userAgent: 'curl/8.5.0' });
    expect(answer.status).toBe(200);
    const expected = fixtureBody('11-release-empty-holder.json');
    expect(answer.json.spec).toEqual(expected.spec);
    expect(Object.keys(answer.json.metadata)).toEqual(Object.keys(expected.metadata));
    // The annotations were dropped by the PUT, and with them the manager's f:metadata.
    expect(Object.keys(answer.json.metadata.managedFields[0].fieldsV1)).toEqual(['f:spec']);
  });

  it('12: an invalid name is 422 Invalid', async () => {
    const { code, body } = await apiError(
      admin.createNamespacedLease({ namespace: NS, body: fixtureRequestBody('12-create-invalid-name.json') }),
    );
    expect(code).toBe(422);
    expect(body).toEqual(fixtureBody('12-create-invalid-name.json'));
  });

  it('13: a bad or missing token is 401 Unauthorized', async () => {
    const bad = await raw('GET', leasePath(NAME), { token: 'not-a-token' });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual(fixtureBody('13-unauthorized.json'));
    const missing = await raw('GET', leasePath(NAME), { token: null });
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual(fixtureBody('13-unauthorized.json'));
    server.addUser('ghost', { token: 'ghost-token' });
    const kubeConfig = server.kubeConfig('ghost');
    kubeConfig.users[0] = { ...kubeConfig.users[0], token: 'wrong' };
    const { code } = await apiError(kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: NAME, namespace: NS }));
    expect(code).toBe(401);
  });

  it('14: RBAC denial in another namespace is 403 Forbidden naming user, verb, resource, group and namespace', async () => {
    server.addUser('le-user', { rules: LE_USER_RULES });
    const client = server.kubeConfig('le-user').makeApiClient(CoordinationV1Api);
    const { code, body } = await apiError(client.readNamespacedLease({ name: NAME, namespace: 'kube-system' }));
    expect(code).toBe(403);
    expect(body).toEqual(fixtureBody('14-forbidden-other-namespace.json'));
  });

  it('15: RBAC denial of another resource is 403 Forbidden (authorised before routing)', async () => {
    const token = server.addUser('le-user', { rules: LE_USER_RULES });
    const answer = await raw('GET', '/api/v1/namespaces/default/configmaps', { token });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual(fixtureBody('15-forbidden-configmaps.json'));
  });

  it('16: the same user is allowed by its Role', async () => {
    await createFixtureLease();
    server.addUser('le-user', { rules: LE_USER_RULES });
    const client = server.kubeConfig('le-user').makeApiClient(CoordinationV1Api);
    const lease = await client.readNamespacedLease({ name: NAME, namespace: NS });
    expect(lease.metadata?.name).toBe(NAME);
  });

  it('17: LIST with a field selector is a LeaseList with the list resourceVersion', async () => {
    await createFixtureLease();
    await admin.createNamespacedLease({ namespace: NS, body: leaseBody('other') });
    const answer = await raw('GET', `${LEASES}?fieldSelector=metadata.name%3D${NAME}`);
    expect(answer.status).toBe(200);
    const expected = fixtureBody('17-list.json');
    expect(Object.keys(answer.json)).toEqual(Object.keys(expected));
    expect(answer.json.kind).toBe('LeaseList');
    expect(answer.json.apiVersion).toBe('coordination.k8s.io/v1');
    expect(answer.json.metadata).toEqual({ resourceVersion: server.resourceVersion });
    expect(answer.json.items).toHaveLength(1);
    expect(Object.keys(answer.json.items[0])).toEqual(['metadata', 'spec']);
    expect(answer.json.items[0]).toEqual(
      (({ kind: _kind, apiVersion: _apiVersion, ...item }) => item)(server.getLease(NS, NAME) as Lease),
    );

    const list = await admin.listNamespacedLease({ namespace: NS, fieldSelector: 'metadata.name==other' });
    expect(list.items.map((l) => l.metadata?.name)).toEqual(['other']);
    const all = await admin.listNamespacedLease({ namespace: NS });
    expect(all.items.map((l) => l.metadata?.name)).toEqual([NAME, 'other']);
    const none = await admin.listNamespacedLease({ namespace: NS, fieldSelector: 'metadata.name!=other,metadata.name!=fixture-lease' });
    expect(none.items).toEqual([]);
    const { code, body } = await apiError(admin.listNamespacedLease({ namespace: NS, fieldSelector: 'spec.holderIdentity=pod-a' }));
    expect(code).toBe(400);
    expect(body.message).toBe('"spec.holderIdentity" is not a known field selector: only "metadata.name", "metadata.namespace"');
  });

  it('18: a watch from a resourceVersion streams MODIFIED then DELETED, one JSON event per line', async () => {
    const created = await createFixtureLease();
    const answer = await fetch(`${server.url}${LEASES}?watch=1&fieldSelector=metadata.name%3D${NAME}&resourceVersion=${created.metadata.resourceVersion}`, {
      headers: { Authorization: `Bearer ${adminToken}` },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.headers.get('transfer-encoding')).toBe('chunked');
    const lines: string[] = [];
    const reader = answer.body!.pipeThrough(new TextDecoderStream()).getReader();
    const read = (async () => {
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += value;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        lines.push(...parts);
      }
    })();

    const body = fixtureRequestBody('05-update-renew.json');
    body.metadata.resourceVersion = created.metadata.resourceVersion;
    body.spec.holderIdentity = 'pod-c';
    const renewed = await raw('PUT', leasePath(NAME), { body, userAgent: 'curl/8.5.0' });
    await raw('DELETE', leasePath(NAME));
    server.faults.endWatches();
    await read;

    const recorded = readFileSync(fixtureUrl('18-watch-stream.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual(recorded.map((e) => e.type));
    expect(events[0].object).toEqual(renewed.json);
    for (const [index, event] of events.entries()) {
      expect(Object.keys(event)).toEqual(['type', 'object']);
      expect(Object.keys(event.object)).toEqual(Object.keys(recorded[index].object));
      expect(Object.keys(event.object.metadata)).toEqual(Object.keys(recorded[index].object.metadata));
    }
    // DELETED carries the last state, stamped with the delete's resourceVersion.
    expect(Number(events[1].object.metadata.resourceVersion)).toBe(Number(events[0].object.metadata.resourceVersion) + 1);
    expect(events[1].object.spec).toEqual(events[0].object.spec);
  });

  it('19: DELETE of a missing Lease is 404', async () => {
    const { code, body } = await apiError(admin.deleteNamespacedLease({ name: NAME, namespace: NS }));
    expect(code).toBe(404);
    expect(body).toEqual(fixtureBody('19-delete-missing.json'));
  });

  it('20: a watch from a compacted resourceVersion gets 200 and one ERROR 410 Expired event, then ends', async () => {
    await createFixtureLease();
    server.compact();
    const answer = await raw('GET', `${LEASES}?watch=1&fieldSelector=metadata.name%3D${NAME}&resourceVersion=1&timeoutSeconds=2`);
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('application/json');
    expect(answer.text.endsWith('\n')).toBe(true);
    expect(answer.text.trim().split('\n')).toHaveLength(1);
    const expected = fixtureBody('20-watch-too-old-rv.json');
    expect(answer.json.type).toBe('ERROR');
    expectStatusLike(answer.json.object, expected.object);
    expect(answer.json.object.message).toBe(`too old resource version: 1 (${server.resourceVersion})`);
  });
});

// --- the rest of the Lease API --------------------------------------------------------------------

describe('Lease API semantics', () => {
  it('keeps one global resourceVersion that increases with every write, across objects', async () => {
    const versions: number[] = [Number(server.resourceVersion)];
    const a = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('a') });
    versions.push(Number(a.metadata?.resourceVersion));
    const b = await admin.createNamespacedLease({ namespace: 'other', body: leaseBody('b') });
    versions.push(Number(b.metadata?.resourceVersion));
    const a2 = await admin.replaceNamespacedLease({ name: 'a', namespace: NS, body: { ...a, spec: { ...a.spec, renewTime: new V1MicroTime() } } });
    versions.push(Number(a2.metadata?.resourceVersion));
    const b2 = await admin.patchNamespacedLease(
      { name: 'b', namespace: 'other', body: { spec: { holderIdentity: 'pod-b' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    versions.push(Number(b2.metadata?.resourceVersion));
    await admin.deleteNamespacedLease({ name: 'a', namespace: NS });
    versions.push(Number(server.resourceVersion));
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBe(versions[i - 1] + 1);
  });

  it('answers DELETE with a Success Status naming the object, and honours preconditions', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('doomed') });
    const stale = await raw('DELETE', leasePath('doomed'), { body: { preconditions: { resourceVersion: '1' } } });
    expect(stale.status).toBe(409);
    expect(stale.json.reason).toBe('Conflict');
    expect(stale.json.message).toContain('Precondition failed: ResourceVersion in precondition: 1');
    const wrongUid = await raw('DELETE', leasePath('doomed'), { body: { preconditions: { uid: 'nope' } } });
    expect(wrongUid.status).toBe(409);
    const answer = await raw('DELETE', leasePath('doomed'), {
      body: { preconditions: { uid: created.metadata?.uid, resourceVersion: created.metadata?.resourceVersion } },
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name: 'doomed', group: 'coordination.k8s.io', kind: 'leases', uid: created.metadata?.uid },
      }),
    );
    expect(server.getLease(NS, 'doomed')).toBeUndefined();
  });

  it('creates on PUT when the Lease is missing (Lease allows create-on-update), but not over a uid precondition', async () => {
    const created = await raw('PUT', leasePath('via-put'), { body: leaseBody('via-put') });
    expect(created.status).toBe(201);
    expect(created.json.metadata.uid).toBeTruthy();
    const withUid = await raw('PUT', leasePath('gone'), { body: leaseBody('gone', {}, { uid: created.json.metadata.uid, resourceVersion: '5' }) });
    expect(withUid.status).toBe(409);
    expect(withUid.json.message).toBe(
      `Operation cannot be fulfilled on leases.coordination.k8s.io "gone": Precondition failed: UID in precondition: ${created.json.metadata.uid}, UID in object meta: `,
    );
  });

  it('refuses a PUT whose uid is not the stored one (the Lease was deleted and recreated)', async () => {
    const first = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('reborn') });
    await admin.deleteNamespacedLease({ name: 'reborn', namespace: NS });
    const second = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('reborn') });
    const { code, body } = await apiError(
      admin.replaceNamespacedLease({ name: 'reborn', namespace: NS, body: { ...first, metadata: { ...first.metadata, resourceVersion: second.metadata?.resourceVersion } } }),
    );
    expect(code).toBe(409);
    expect(body.reason).toBe('Conflict');
  });

  it('refuses a POST that carries a resourceVersion with a bare 500, as etcd3 storage does', async () => {
    const answer = await raw('POST', LEASES, { body: leaseBody('stale-copy', {}, { resourceVersion: '42' }) });
    expect(answer.status).toBe(500);
    expect(answer.json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'resourceVersion should not be set on objects to be created',
      code: 500,
    });
  });

  it('checks names and namespaces against the URL', async () => {
    await admin.createNamespacedLease({ namespace: NS, body: leaseBody('right') });
    const lease = server.getLease(NS, 'right')!;
    const wrongName = await raw('PUT', leasePath('right'), { body: { ...lease, metadata: { ...lease.metadata, name: 'wrong' } } });
    expect(wrongName.status).toBe(400);
    expect(wrongName.json.message).toBe('the name of the object (wrong) does not match the name on the URL (right)');
    const wrongNamespace = await raw('POST', LEASES, { body: leaseBody('elsewhere', {}, { namespace: 'kube-system' }) });
    expect(wrongNamespace.status).toBe(400);
    expect(wrongNamespace.json.message).toBe('the namespace of the provided object does not match the namespace sent on the request');
  });

  it('PATCH: stale resourceVersion is 409, a missing Lease 404, other patch types 415, an undecodable result 422', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('patched') });
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const stale = await apiError(
      admin.patchNamespacedLease({ name: 'patched', namespace: NS, body: { metadata: { resourceVersion: '1' }, spec: { holderIdentity: 'x' } } }, merge),
    );
    expect(stale.code).toBe(409);
    const matching = await admin.patchNamespacedLease(
      { name: 'patched', namespace: NS, body: { metadata: { resourceVersion: created.metadata?.resourceVersion }, spec: { holderIdentity: 'x' } } },
      merge,
    );
    expect(matching.spec?.holderIdentity).toBe('x');
    const missing = await apiError(admin.patchNamespacedLease({ name: 'nope', namespace: NS, body: {} }, merge));
    expect(missing.code).toBe(404);
    // client-node's default patch type is a JSON patch, which this server does not implement.
    const jsonPatch = await apiError(admin.patchNamespacedLease({ name: 'patched', namespace: NS, body: [] }));
    expect(jsonPatch.code).toBe(415);
    expect(jsonPatch.body.reason).toBe('UnsupportedMediaType');
    const badTime = await apiError(
      admin.patchNamespacedLease({ name: 'patched', namespace: NS, body: { spec: { renewTime: new Date().toISOString() } } }, merge),
    );
    expect(badTime.code).toBe(422);
    expect(badTime.body.details.causes[0].field).toBe('patch');
    expect(badTime.body.message).toMatch(/^ "" is invalid: patch: Invalid value: ".*": v1\.Lease\.Spec: v1\.LeaseSpec\.RenewTime: /);
  });

  it('does not write a no-op update: same resourceVersion, no event', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('same') });
    const again = await admin.replaceNamespacedLease({ name: 'same', namespace: NS, body: created });
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
  });

  it('answers unknown paths with a 404 Status and unparsable bodies with 400', async () => {
    const unknown = await raw('GET', '/apis/coordination.k8s.io/v1/namespaces/default/widgets');
    expect(unknown.status).toBe(404);
    expect(unknown.json.reason).toBe('NotFound');
    const garbage = await raw('POST', LEASES, { body: '{"metadata":' });
    expect(garbage.status).toBe(400);
    expect(garbage.json.message).toBe("couldn't get version/kind; json parse error: unexpected end of JSON input");
    const wrongType = await raw('POST', LEASES, { body: leaseBody('typed', { leaseDurationSeconds: 'fifteen' }) });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.message).toMatch(/^Lease in version "v1" cannot be handled as a Lease: v1\.Lease\.Spec: v1\.LeaseSpec\./);
  });

  it('serves the public health paths to everyone, and they fail during an outage', async () => {
    server.addUser('nobody-special', { rules: [] });
    expect(await new Health(server.kubeConfig('nobody-special')).readyz({})).toBe(true);
    expect((await raw('GET', '/livez', { token: null })).text).toBe('ok');
    expect((await raw('GET', '/version')).json.gitVersion).toBe('v1.20.2');
    expect((await raw('GET', '/healthz', { token: 'wrong' })).status).toBe(401);
    server.faults.outage = true;
    expect(await new Health(server.kubeConfig('admin')).readyz({})).toBe(false);
  });

  it('putLease and deleteLease write directly, keeping a Lease exactly as another client shaped it', async () => {
    const seeded = server.putLease(NS, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: 'kube-controller-manager',
        uid: '0b4c6f0e-8a0e-4a8e-9b0e-2f0e6a0e8a0e',
        creationTimestamp: '2026-01-01T00:00:00Z',
        managedFields: [
          {
            manager: 'kube-controller-manager',
            operation: 'Update',
            apiVersion: 'coordination.k8s.io/v1',
            time: '2026-01-01T00:00:00Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:spec': { 'f:holderIdentity': {} } },
          },
        ],
      },
      spec: { holderIdentity: 'kcm-1_8a4b', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: '2026-01-01T00:00:01.000000Z', leaseTransitions: 3 },
    });
    expect(seeded.metadata.uid).toBe('0b4c6f0e-8a0e-4a8e-9b0e-2f0e6a0e8a0e');
    const read = await admin.readNamespacedLease({ name: 'kube-controller-manager', namespace: NS });
    expect(read.metadata?.resourceVersion).toBe(seeded.metadata.resourceVersion);
    expect(read.spec?.leaseTransitions).toBe(3);
    expect(() => server.putLease(NS, { metadata: { name: 'x' }, spec: { renewTime: '2026-01-01T00:00:00Z' } })).toThrow(/parsing time/);
    expect(server.deleteLease(NS, 'kube-controller-manager')).toBe(true);
    expect(server.deleteLease(NS, 'kube-controller-manager')).toBe(false);
  });
});

// --- watches -----------------------------------------------------------------------------------

describe('watches', () => {
  it('start with ADDED for what exists, then deliver MODIFIED as soon as the update is answered', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('watched') });
    const watch = await WatchStream.open(server.kubeConfig('admin'), { fieldSelector: 'metadata.name=watched' });
    const added = await watch.next();
    expect(added.type).toBe('ADDED');
    expect(added.object.metadata.resourceVersion).toBe(created.metadata?.resourceVersion);
    const renewed = await admin.replaceNamespacedLease({
      name: 'watched',
      namespace: NS,
      body: { ...created, spec: { ...created.spec, renewTime: new V1MicroTime() } },
    });
    const modified = await watch.next();
    expect(modified.type).toBe('MODIFIED');
    expect(modified.object.metadata.resourceVersion).toBe(renewed.metadata?.resourceVersion);
    expect(modified.object.kind).toBe('Lease');
    expect(modified.object.apiVersion).toBe('coordination.k8s.io/v1');
  });

  it('replay history after an older resourceVersion, then go live; only the selected Lease', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('history') });
    await admin.createNamespacedLease({ namespace: NS, body: leaseBody('unrelated') });
    let current = created;
    const versions: string[] = [];
    for (let i = 0; i < 3; i++) {
      current = await admin.replaceNamespacedLease({
        name: 'history',
        namespace: NS,
        body: { ...current, spec: { ...current.spec, leaseTransitions: i + 1 } },
      });
      versions.push(current.metadata!.resourceVersion!);
    }
    const watch = await WatchStream.open(server.kubeConfig('admin'), {
      fieldSelector: 'metadata.name=history',
      resourceVersion: versions[0],
    });
    expect((await watch.next()).object.metadata.resourceVersion).toBe(versions[1]);
    expect((await watch.next()).object.metadata.resourceVersion).toBe(versions[2]);
    server.deleteLease(NS, 'history');
    const deleted = await watch.next();
    expect(deleted.type).toBe('DELETED');
    expect(deleted.object.spec.leaseTransitions).toBe(3);
    expect(watch.events.map((e) => e.object.metadata.name)).toEqual(['history', 'history', 'history']);
  });

  it('answer 410 Expired after compact(), and client-node hands the ERROR event over', async () => {
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('compacted') });
    await admin.replaceNamespacedLease({ name: 'compacted', namespace: NS, body: { ...created, spec: { ...created.spec, leaseTransitions: 1 } } });
    server.compact();
    const watch = await WatchStream.open(server.kubeConfig('admin'), { resourceVersion: created.metadata!.resourceVersion! });
    const error = await watch.next();
    expect(error.type).toBe('ERROR');
    expect(error.object).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
    expect(error.object.message).toBe(`too old resource version: ${created.metadata?.resourceVersion} (${server.resourceVersion})`);
    expect(await watch.done).toBeNull();
    // A watch from the current version is fine after compaction.
    const fresh = await WatchStream.open(server.kubeConfig('admin'), { resourceVersion: server.resourceVersion });
    server.putLease(NS, leaseBody('compacted-2'));
    expect((await fresh.next()).type).toBe('ADDED');
  });

  it('end after timeoutSeconds, cleanly', async () => {
    const watch = await WatchStream.open(server.kubeConfig('admin'), { timeoutSeconds: 1 });
    expect(await watch.done).toBeNull();
    expect(server.openWatches()).toBe(0);
  });

  it('see putLease and deleteLease as ADDED, MODIFIED and DELETED', async () => {
    const watch = await WatchStream.open(server.kubeConfig('admin'));
    const first = server.putLease(NS, leaseBody('seeded'));
    const second = server.putLease(NS, { ...first, spec: { ...first.spec, holderIdentity: 'pod-z' } });
    server.deleteLease(NS, 'seeded');
    expect((await watch.next()).type).toBe('ADDED');
    const modified = await watch.next();
    expect(modified.type).toBe('MODIFIED');
    expect(modified.object.metadata.resourceVersion).toBe(second.metadata.resourceVersion);
    expect((await watch.next()).type).toBe('DELETED');
  });
});

// --- authorization -------------------------------------------------------------------------------

describe('RBAC', () => {
  const electorRules: RbacRule[] = [
    { verbs: ['get', 'update', 'watch'], resourceNames: ['my-lease'], namespaces: [NS] },
    { verbs: ['create'], namespaces: [NS] },
  ];

  it('resourceNames allows get, update and a name-selected watch of one Lease; create needs no name', async () => {
    server.addUser('elector', { rules: electorRules });
    const kubeConfig = server.kubeConfig('elector');
    const client = kubeConfig.makeApiClient(CoordinationV1Api);
    const created = await client.createNamespacedLease({ namespace: NS, body: leaseBody('my-lease') });
    const read = await client.readNamespacedLease({ name: 'my-lease', namespace: NS });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    const watch = await WatchStream.open(kubeConfig, { fieldSelector: 'metadata.name=my-lease' });
    expect((await watch.next()).type).toBe('ADDED');
    await client.replaceNamespacedLease({ name: 'my-lease', namespace: NS, body: { ...read, spec: { ...read.spec, renewTime: new V1MicroTime() } } });
    expect((await watch.next()).type).toBe('MODIFIED');

    await client.createNamespacedLease({ namespace: NS, body: leaseBody('their-lease') });
    const other = await apiError(client.readNamespacedLease({ name: 'their-lease', namespace: NS }));
    expect(other.code).toBe(403);
    expect(other.body.message).toBe(
      'leases.coordination.k8s.io "their-lease" is forbidden: User "elector" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "default"',
    );
    const patch = await apiError(
      client.patchNamespacedLease({ name: 'my-lease', namespace: NS, body: {} }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
    expect(patch.code).toBe(403);
  });

  it('a list or watch without the name selector is a collection request: 403 without a name', async () => {
    server.addUser('elector', { rules: electorRules });
    const kubeConfig = server.kubeConfig('elector');
    const client = kubeConfig.makeApiClient(CoordinationV1Api);
    const list = await apiError(client.listNamespacedLease({ namespace: NS }));
    expect(list.code).toBe(403);
    expect(list.body.message).toBe(
      'leases.coordination.k8s.io is forbidden: User "elector" cannot list resource "leases" in API group "coordination.k8s.io" in the namespace "default"',
    );
    expect(list.body.details).toEqual({ group: 'coordination.k8s.io', kind: 'leases' });
    // With the selector, the list is authorised for that name, and `list` is not in the rule.
    const named = await apiError(client.listNamespacedLease({ namespace: NS, fieldSelector: 'metadata.name=my-lease' }));
    expect(named.body.message).toMatch(/^leases\.coordination\.k8s\.io "my-lease" is forbidden: User "elector" cannot list/);
    const watch = await WatchStream.open(kubeConfig);
    expect(await watch.done).toMatchObject({ statusCode: 403 });
  });

  it('a PUT that would create needs create permission for that name', async () => {
    const token = server.addUser('updater', { rules: [{ verbs: ['update'], namespaces: [NS] }] });
    const answer = await raw('PUT', leasePath('new-one'), { token, body: leaseBody('new-one') });
    expect(answer.status).toBe(403);
    expect(answer.json.message).toContain('cannot create resource "leases"');
  });
});

// --- faults --------------------------------------------------------------------------------------

describe('faults', () => {
  it('latencyMs delays every answer', async () => {
    server.faults.latencyMs = 50;
    const started = performance.now();
    await apiError(admin.readNamespacedLease({ name: 'slow', namespace: NS }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('outage answers 503 ServiceUnavailable to everything, watches included', async () => {
    server.faults.outage = true;
    const { code, body } = await apiError(admin.readNamespacedLease({ name: NAME, namespace: NS }));
    expect(code).toBe(503);
    expect(body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'ServiceUnavailable', code: 503 });
    const watch = await WatchStream.open(server.kubeConfig('admin'));
    expect(await watch.done).toMatchObject({ statusCode: 503 });
    server.faults.outage = false;
    await apiError(admin.readNamespacedLease({ name: NAME, namespace: NS })).then(({ code }) => expect(code).toBe(404));
  });

  it('failNext fails that many non-watch requests with the given status', async () => {
    server.faults.failNext(2, 504);
    const watch = await WatchStream.open(server.kubeConfig('admin')); // not consumed by a watch
    const first = await apiError(admin.readNamespacedLease({ name: NAME, namespace: NS }));
    expect(first.code).toBe(504);
    expect(first.body.reason).toBe('Timeout');
    expect((await apiError(admin.createNamespacedLease({ namespace: NS, body: leaseBody('x') }))).code).toBe(504);
    await admin.createNamespacedLease({ namespace: NS, body: leaseBody('x') });
    expect((await watch.next()).type).toBe('ADDED');
    server.faults.failNext(1);
    const internal = await apiError(admin.readNamespacedLease({ name: 'x', namespace: NS }));
    expect(internal.code).toBe(500);
    expect(internal.body.reason).toBe('InternalError');
    server.faults.failNext(1, 503);
    expect((await apiError(admin.readNamespacedLease({ name: 'x', namespace: NS }))).body.reason).toBe('ServiceUnavailable');
  });

  it('hang accepts requests and never answers: the client times out', async () => {
    server.faults.hang = true;
    const arrived = once(server, 'request') as Promise<[RequestEventInfo]>;
    const call = admin.readNamespacedLease({ name: NAME, namespace: NS }, abortAfter(100));
    const [info] = await arrived;
    expect(info).toMatchObject({ user: 'admin', verb: 'get', status: 0 });
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    const fetched = raw('GET', leasePath(NAME), { signal: AbortSignal.timeout(50) });
    await expect(fetched).rejects.toMatchObject({ name: 'TimeoutError' });
    server.faults.hang = false;
    expect((await apiError(admin.readNamespacedLease({ name: NAME, namespace: NS }))).code).toBe(404);
  });

  it('partition holds one user\'s requests and watch events while another user is served', async () => {
    server.addUser('cut');
    server.addUser('fine');
    const cut = server.kubeConfig('cut');
    const fine = server.kubeConfig('fine');
    const created = await admin.createNamespacedLease({ namespace: NS, body: leaseBody('shared') });
    const cutWatch = await WatchStream.open(cut, { fieldSelector: 'metadata.name=shared' });
    const fineWatch = await WatchStream.open(fine, { fieldSelector: 'metadata.name=shared' });
    expect((await cutWatch.next()).type).toBe('ADDED');
    expect((await fineWatch.next()).type).toBe('ADDED');

    server.faults.partition('cut', true);
    const held = once(server, 'request') as Promise<[RequestEventInfo]>;
    const cutCall = cut.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'shared', namespace: NS }, abortAfter(100));
    expect((await held)[0]).toMatchObject({ user: 'cut', status: 0 });
    const fineRead = await fine.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'shared', namespace: NS });
    expect(fineRead.metadata?.uid).toBe(created.metadata?.uid);
    await expect(cutCall).rejects.toMatchObject({ name: 'AbortError' });

    await admin.replaceNamespacedLease({ name: 'shared', namespace: NS, body: { ...created, spec: { ...created.spec, leaseTransitions: 1 } } });
    expect((await fineWatch.next()).type).toBe('MODIFIED');
    await fine.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'shared', namespace: NS }); // one more round trip
    expect(cutWatch.events).toHaveLength(1);

    server.faults.partition('cut', false);
    const late = await cutWatch.next();
    expect(late.type).toBe('MODIFIED');
    expect(late.object.spec.leaseTransitions).toBe(1);
    await cut.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'shared', namespace: NS });
  });

  it('killWatches destroys watch connections: the client sees an error', async () => {
    server.addUser('victim');
    const victim = await WatchStream.open(server.kubeConfig('victim'));
    const bystander = await WatchStream.open(server.kubeConfig('admin'));
    server.faults.killWatches('victim');
    const error = await victim.done;
    expect(error).toBeInstanceOf(Error);
    expect(server.openWatches('admin')).toBe(1);
    server.putLease(NS, leaseBody('after-kill'));
    expect((await bystander.next()).type).toBe('ADDED');
  });

  it('endWatches ends watch streams cleanly: the client sees the stream end', async () => {
    const watch = await WatchStream.open(server.kubeConfig('admin'));
    server.faults.endWatches();
    expect(await watch.done).toBeNull();
    expect(server.openWatches()).toBe(0);
  });

  it('refuseConnections refuses, then listens again on the same port', async () => {
    const url = server.url;
    await server.faults.refuseConnections(true);
    await expect(admin.readNamespacedLease({ name: NAME, namespace: NS })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(raw('GET', leasePath(NAME))).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    await server.faults.refuseConnections(false);
    expect(server.url).toBe(url);
    expect((await apiError(admin.readNamespacedLease({ name: NAME, namespace: NS }))).code).toBe(404);
  });

  it('counts requests per user and verb, including refused ones', async () => {
    server.addUser('reader', { rules: [{ verbs: ['get'], namespaces: [NS] }] });
    const reader = server.kubeConfig('reader').makeApiClient(CoordinationV1Api);
    await admin.createNamespacedLease({ namespace: NS, body: leaseBody('counted') });
    await reader.readNamespacedLease({ name: 'counted', namespace: NS });
    await apiError(reader.deleteNamespacedLease({ name: 'counted', namespace: NS })); // 403, still counted
    server.faults.failNext(1);
    await apiError(reader.readNamespacedLease({ name: 'counted', namespace: NS })); // 500, still counted
    await raw('GET', leasePath('counted'), { token: 'nobody' }); // 401: counted for no user
    const watch = await WatchStream.open(server.kubeConfig('admin'));
    watch.abort();

    expect(server.counts('reader')).toEqual({ get: 2, list: 0, watch: 0, create: 0, update: 0, patch: 0, delete: 1 });
    expect(server.counts('admin')).toEqual({ get: 0, list: 0, watch: 1, create: 1, update: 0, patch: 0, delete: 0 });
    expect(server.counts()).toEqual({ get: 3, list: 0, watch: 1, create: 1, update: 0, patch: 0, delete: 1 });
    expect(server.totalRequests()).toBe(6);
    expect(server.totalRequests('reader')).toBe(3);
    server.resetCounts();
    expect(server.totalRequests()).toBe(0);
    expect(server.counts('reader').get).toBe(0);
  });

  it('reports each answered request on the request event', async () => {
    const answered = once(server, 'request') as Promise<[RequestEventInfo]>;
    await apiError(admin.readNamespacedLease({ name: NAME, namespace: NS }));
    expect((await answered)[0]).toEqual({ user: 'admin', verb: 'get', method: 'GET', path: leasePath(NAME), query: '', status: 404 });
  });
});

describe('close()', () => {
  it('ends open watches and held requests, and refuses new connections', async () => {
    const watch = await WatchStream.open(server.kubeConfig('admin'));
    server.faults.hang = true;
    const held = raw('GET', leasePath(NAME));
    await once(server, 'request');
    const url = server.url;
    await server.close();
    expect(await watch.done).toBeNull();
    await expect(held).rejects.toThrow();
    await expect(fetch(url)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    await server.close(); // idempotent, and afterEach calls it again
  });
});

// --- connections -------------------------------------------------------------------------------

/** One GET of `/version` with `token` through `agent` (a real node:http(s) request); its status. */
async function getVersion(agent: HttpAgent, token: string, target: KubeApiServer = server): Promise<number> {
  const send = target.url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(`${target.url}/version`, { agent, headers: { Authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('connections', () => {
  const agents: HttpAgent[] = [];
  const keepAlive = (agent: HttpAgent = new HttpAgent({ keepAlive: true })): HttpAgent => (agents.push(agent), agent);

  afterEach(() => {
    for (const agent of agents.splice(0)) agent.destroy();
  });

  it('counts connections accepted, in total and by the user of their first request, and those open', async () => {
    const tokenB = server.addUser('user-b');
    const reused = keepAlive();
    for (let i = 0; i < 3; i++) expect(await getVersion(reused, adminToken)).toBe(200);
    // No keep-alive: a connection per request, each closed after its answer.
    for (let i = 0; i < 2; i++) expect(await getVersion(new HttpAgent({ keepAlive: false }), tokenB)).toBe(200);

    expect(server.connections('admin')).toEqual({ accepted: 1, open: 1, tlsHandshakes: 0, tlsResumed: 0 });
    expect(server.connections('user-b')).toMatchObject({ accepted: 2 });
    expect(server.connections('nobody')).toEqual({ accepted: 0, open: 0, tlsHandshakes: 0, tlsResumed: 0 });
    expect(server.connections()).toMatchObject({ accepted: 3, tlsHandshakes: 0 });

    server.resetCounts();
    expect(server.connections('admin')).toEqual({ accepted: 0, open: 1, tlsHandshakes: 0, tlsResumed: 0 });
    expect(server.connections()).toMatchObject({ accepted: 0 });
  });

  it('faults.closeIdleConnections closes a kept-alive connection; the next request opens another', async () => {
    const agent = keepAlive();
    await getVersion(agent, adminToken);
    expect(server.connections('admin').open).toBe(1);

    server.faults.closeIdleConnections();
    await vi.waitFor(() => expect(server.connections('admin').open).toBe(0));
    expect(await getVersion(agent, adminToken)).toBe(200);
    expect(server.connections('admin')).toMatchObject({ accepted: 2, open: 1 });
  });

  it('faults.dropNextOnReusedConnection resets a request on a used connection, never on a new one', async () => {
    const agent = keepAlive();
    server.faults.dropNextOnReusedConnection();
    expect(await getVersion(agent, adminToken)).toBe(200); // first on its connection: served
    await expect(getVersion(agent, adminToken)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await getVersion(agent, adminToken)).toBe(200); // on a new connection, and none queued
    expect(await getVersion(agent, adminToken)).toBe(200);
    expect(server.connections('admin').accepted).toBe(2);
    expect(server.totalRequests('admin')).toBe(3); // the dropped one never reached the pipeline
  });

  describe('over HTTPS', () => {
    let secure: KubeApiServer;
    const certificate = selfSignedCertificate();

    beforeEach(async () => {
      secure = await KubeApiServer.start({ tls: certificate });
    });

    afterEach(() => secure.close());

    it('serves client-node with its certificate as the cluster CA, no skipTLSVerify', async () => {
      secure.addUser('pod-a');
      const kubeConfig = secure.kubeConfig('pod-a');
      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(kubeConfig.getCurrentCluster()).toMatchObject({ skipTLSVerify: false });
      const api = kubeConfig.makeApiClient(CoordinationV1Api);
      const created = await api.createNamespacedLease({ namespace: NS, body: leaseBody('over-tls') });
      expect(created.metadata?.name).toBe('over-tls');
      expect(secure.connections('pod-a')).toMatchObject({ accepted: 1, tlsHandshakes: 1, tlsResumed: 0 });
    });

    it('counts full and resumed TLS handshakes per user', async () => {
      const token = secure.addUser('pod-a');
      const ca = certificate.cert;
      // One agent, no keep-alive: a connection per request, the later ones resuming its TLS session.
      const resuming = new HttpsAgent({ keepAlive: false, ca });
      for (let i = 0; i < 3; i++) expect(await getVersion(resuming, token, secure)).toBe(200);
      // A new agent per request (client-node 1.4's way): nothing to resume, a full handshake each.
      for (let i = 0; i < 2; i++) expect(await getVersion(keepAlive(new HttpsAgent({ keepAlive: false, ca })), token, secure)).toBe(200);
      expect(secure.connections('pod-a')).toMatchObject({ accepted: 5, tlsHandshakes: 5, tlsResumed: 2 });
      expect(secure.connections()).toMatchObject({ accepted: 5, tlsHandshakes: 5, tlsResumed: 2 });
    });
  });
});
