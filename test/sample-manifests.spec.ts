import { dumpYaml, loadAllYaml, type V1Container, type V1Deployment, type V1PodDisruptionBudget } from '@kubernetes/client-node';
import { existsSync, readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

/**
 * The sample's Kubernetes manifests, read as the API server would read them (there is no cluster or
 * kubectl here). Every document is parsed twice: as plain YAML (the `yaml` package) and into
 * @kubernetes/client-node's typed models, which drop any field the Kubernetes schema does not know;
 * the two must agree, so a misspelled field (`readOnlyRootFileSystem`) fails here instead of being
 * ignored by the cluster.
 *
 * The rules are stated once and hold for every folder under sample/k8s that holds manifests,
 * found by walking it: a new folder is checked without being listed here.
 */
const root = new URL('..', import.meta.url).pathname;

/** Every folder under sample/k8s with a .yaml file in it, as a path from the repository root. */
function manifestFolders(folder = join(root, 'sample/k8s')): string[] {
  const entries = readdirSync(folder, { withFileTypes: true });
  const own = entries.some((entry) => entry.isFile() && entry.name.endsWith('.yaml')) ? [relative(root, folder)] : [];
  return [...own, ...entries.filter((entry) => entry.isDirectory()).flatMap((entry) => manifestFolders(join(folder, entry.name)))].sort();
}
const FOLDERS = manifestFolders();

/** The images this repository builds, and the Dockerfile that builds each. */
const DOCKERFILES: Record<string, string> = {
  'nestjs-cluster-leader-sample': 'sample/Dockerfile',
  'nestjs-cluster-leader-elector': 'docker/leader-elector.Dockerfile',
};

interface Manifest {
  file: string;
  raw: Record<string, unknown>;
  typed: { apiVersion?: string; kind?: string; metadata?: { name?: string } };
}

async function readFolder(folder: string): Promise<{ files: string[]; kustomization: { resources: string[] }; manifests: Manifest[] }> {
  const files = (await readdir(join(root, folder))).filter((file) => file.endsWith('.yaml')).sort();
  const kustomization = parse(await readFile(join(root, folder, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const manifests: Manifest[] = [];
  for (const file of files.filter((name) => name !== 'kustomization.yaml')) {
    const text = await readFile(join(root, folder, file), 'utf8');
    const documents = parseAllDocuments(text);
    for (const document of documents) {
      expect(document.errors, `${folder}/${file}`).toEqual([]);
    }
    const typed = loadAllYaml(text) as Manifest['typed'][];
    documents.forEach((document, index) => manifests.push({ file, raw: document.toJS(), typed: typed[index] }));
  }
  return { files, kustomization, manifests };
}

function ofKind<T>(manifests: Manifest[], kind: string): T[] {
  return manifests.filter((manifest) => manifest.raw.kind === kind).map((manifest) => manifest.typed as T);
}

/** The securityContext Kubernetes applies to a container: its own fields over the pod's. */
function effectiveSecurityContext(deployment: V1Deployment, container: V1Container) {
  return { ...deployment.spec!.template.spec!.securityContext, ...container.securityContext };
}

/** The sample app's container: every Deployment here runs the sample in a container named `app`. */
function appContainer(deployment: V1Deployment): V1Container {
  const app = deployment.spec!.template.spec!.containers.find((container) => container.name === 'app');
  expect(app, `${deployment.metadata?.name}: a container named app`).toBeDefined();
  return app!;
}

/** A memory quantity in bytes: `96Mi`, `1Gi`, `128M`, `1000`. */
function bytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  expect(match, `a memory quantity: ${quantity}`).not.toBeNull();
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[match![2] ?? ''] ?? 1;
  return Number(match![1]) * unit;
}

describe.each(FOLDERS)('the manifests in %s', (folder) => {
  it('are all listed in kustomization.yaml, which lists nothing else (kubectl apply -k)', async () => {
    const { files, kustomization } = await readFolder(folder);
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => file !== 'kustomization.yaml'));
  });

  it('use only fields the Kubernetes schema knows, in kinds it knows', async () => {
    const { manifests } = await readFolder(folder);
    for (const { file, raw, typed } of manifests) {
      expect(raw.kind, `${file}: kind`).toMatch(/^(ServiceAccount|Role|RoleBinding|Deployment|PodDisruptionBudget)$/);
      // A typed model serializes back to exactly what the file says only if every field is known.
      expect(parse(dumpYaml(typed)), `${file}: ${String(raw.kind)} ${typed.metadata?.name}`).toEqual(raw);
    }
  });

  it('run every container non-root, read-only, without capabilities or escalation, under RuntimeDefault seccomp', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    const containers = deployment.spec!.template.spec!.containers;
    expect(containers.length).toBeGreaterThan(0);
    for (const container of containers) {
      const context = effectiveSecurityContext(deployment, container);
      expect(context, container.name).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(context.capabilities?.add ?? [], container.name).toEqual([]);
      expect(context.privileged ?? false, container.name).toBe(false);
      // runAsNonRoot can only be checked by the kubelet against a numeric user.
      expect(Number.isInteger(context.runAsUser) && context.runAsUser! > 0, `${container.name}: runAsUser`).toBe(true);
    }
  });

  it('mount only volumes the pod declares', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    const volumes = (deployment.spec!.template.spec!.volumes ?? []).map((volume) => volume.name);
    const mounts = deployment.spec!.template.spec!.containers.flatMap((container) => container.volumeMounts ?? []);
    for (const mount of mounts) expect(volumes).toContain(mount.name);
  });

  it('have a PodDisruptionBudget that selects the Deployment\'s pods and lets a drain evict one', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    const budgets = ofKind<V1PodDisruptionBudget>(manifests, 'PodDisruptionBudget');
    expect(budgets).toHaveLength(1);
    const [{ spec }] = budgets;
    const podLabels = deployment.spec!.template.metadata!.labels!;
    // Every label the budget selects on is on the pods, and it selects what the Deployment does.
    for (const [label, value] of Object.entries(spec!.selector!.matchLabels!)) expect(podLabels[label], label).toBe(value);
    expect(spec!.selector!.matchLabels).toEqual(deployment.spec!.selector.matchLabels);
    expect(spec!.selector!.matchExpressions ?? []).toEqual([]);
    // A budget that allows no eviction would block every node drain.
    const replicas = deployment.spec!.replicas!;
    const allowedDown = spec!.maxUnavailable !== undefined ? Number(spec!.maxUnavailable) : replicas - Number(spec!.minAvailable);
    expect(allowedDown).toBeGreaterThanOrEqual(1);
    expect(allowedDown).toBeLessThan(replicas);
  });

  it('pull no image from a registry that no longer serves it', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    for (const { image } of deployment.spec!.template.spec!.containers) {
      expect(image).not.toMatch(/^(gcr\.io\/google[-_]containers|k8s\.gcr\.io)\//);
    }
  });

  it('name in the Role, without a wildcard, every Lease the app updates: its one Lease, or each shard\'s with SAMPLE_SHARDS', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    const app = deployment.spec!.template.spec!.containers.find((container) => container.name === 'app');
    const env = Object.fromEntries((app?.env ?? []).filter((variable) => variable.value !== undefined).map((variable) => [variable.name, variable.value!]));
    // The elector bin's folder runs a container of its own for the Lease: its --election flag names it.
    if (env.LEADER_ELECTION_BACKEND !== 'lease') return;
    const name = env.LEADER_ELECTION_LEASE_NAME ?? 'sample-leader';
    const shards = Number(env.SAMPLE_SHARDS ?? '1');
    const expected = shards > 1 ? Array.from({ length: shards }, (_, index) => `${name}-shard-${index}`) : [name];
    const roles = ofKind<{ rules: { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[] }>(manifests, 'Role');
    const updating = roles.flatMap((role) => role.rules).filter((rule) => rule.resources.includes('leases') && rule.verbs.includes('update'));
    expect(updating.flatMap((rule) => rule.resourceNames ?? ['(every Lease)']).sort()).toEqual(expected.sort());
    expect(updating.every((rule) => rule.verbs.includes('get') && rule.verbs.includes('watch'))).toBe(true);
  });

  it('give every container a cpu and memory request and a memory limit at or above it', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    for (const { name, resources } of deployment.spec!.template.spec!.containers) {
      expect(resources?.requests?.cpu, `${name}: requests.cpu`).toBeDefined();
      const request = bytes(String(resources?.requests?.memory));
      expect(bytes(String(resources?.limits?.memory)), `${name}: limits.memory`).toBeGreaterThanOrEqual(request);
    }
  });

  it('point only at files and README sections that exist', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    for (const file of await readdir(join(root, folder))) {
      const comments = (await readFile(join(root, folder, file), 'utf8')).split('\n').filter((line) => /^\s*#/.test(line) || / # /.test(line)).join('\n');
      for (const [path] of comments.matchAll(/\b(?:docs|sample|docker)\/[\w.\/-]*[\w\/]/g)) {
        expect(existsSync(join(root, path)), `${folder}/${file} names ${path}`).toBe(true);
      }
      for (const [, section] of comments.matchAll(/README: "([^"]+)"/g)) {
        expect(readme, `${folder}/${file} names the README section "${section}"`).toMatch(new RegExp(`^#+ ${section}$`, 'm'));
      }
    }
  });
});

describe.each(FOLDERS)('the app container in %s', (folder) => {
  it('probes liveness on /health and readiness on /healthz, and lets Prometheus find /metrics on the app port', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    const app = appContainer(deployment);
    expect(app.livenessProbe?.httpGet).toMatchObject({ path: '/health', port: 'http' });
    expect(app.readinessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    const http = app.ports!.find((port) => port.name === 'http')!;
    expect(deployment.spec!.template.metadata!.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(http.containerPort),
      'prometheus.io/path': '/metrics',
    });
  });

  it('asks for the same resources as in every other folder (one measured figure: docs/kubernetes.md)', async () => {
    const [first] = FOLDERS;
    const expected = appContainer(ofKind<V1Deployment>((await readFolder(first!)).manifests, 'Deployment')[0]!).resources;
    const { manifests } = await readFolder(folder);
    expect(appContainer(ofKind<V1Deployment>(manifests, 'Deployment')[0]!).resources, `${folder} and ${first}`).toEqual(expected);
  });
});

describe('the sample\'s manifests', () => {
  it('are found in every folder under sample/k8s, each applied as a whole with kubectl apply -k', () => {
    // The walk must find the folders the docs name; a broken walk must not pass by checking nothing.
    expect(FOLDERS).toEqual(expect.arrayContaining(['sample/k8s/lease', 'sample/k8s/lease-shards', 'sample/k8s/sidecar', 'sample/k8s/sidecar-migrated/in-app', 'sample/k8s/sidecar-migrated/elector-bin']));
    for (const folder of FOLDERS) expect(existsSync(join(root, folder, 'kustomization.yaml')), `${folder}/kustomization.yaml`).toBe(true);
  });

  it('run each image this repository builds as the user its Dockerfile sets', async () => {
    const users = new Map<string, number>();
    for (const [image, dockerfile] of Object.entries(DOCKERFILES)) {
      const [, uid] = /^USER (\d+)(?::\d+)?$/m.exec(await readFile(join(root, dockerfile), 'utf8')) ?? [];
      expect(uid, `a numeric USER in ${dockerfile}`).toBeDefined();
      users.set(image, Number(uid));
    }
    let checked = 0;
    for (const folder of FOLDERS) {
      const { manifests } = await readFolder(folder);
      const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
      for (const container of deployment.spec!.template.spec!.containers) {
        const image = container.image!.replace(/:[^/]*$/, '');
        if (!users.has(image)) continue;
        expect(effectiveSecurityContext(deployment, container).runAsUser, `${folder}: ${container.name}`).toBe(users.get(image));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(FOLDERS.length);
  });

  it('are applied with kubectl apply -k everywhere the README, the docs and the manifests say how', async () => {
    const docs = (await readdir(join(root, 'docs'))).filter((file) => file.endsWith('.md'));
    const texts = [join(root, 'README.md'), ...docs.map((file) => join(root, 'docs', file))];
    for (const folder of FOLDERS) {
      for (const file of await readdir(join(root, folder))) texts.push(join(root, folder, file));
    }
    // `-f` on a folder also sends its kustomization.yaml to the API server, which rejects it.
    for (const path of texts) {
      expect(await readFile(path, 'utf8'), path).not.toMatch(/kubectl apply -f\s+(\.\/)?sample\/k8s/);
    }
    // "The sample on Kubernetes" moved from the README to docs/kubernetes.md.
    const page = await readFile(join(root, 'docs/kubernetes.md'), 'utf8');
    for (const folder of FOLDERS) expect(page, 'docs/kubernetes.md').toContain(`kubectl apply -k ${folder}`);
  });
});
