import { dumpYaml, loadAllYaml, type V1Container, type V1Deployment, type V1PodDisruptionBudget } from '@kubernetes/client-node';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

/**
 * The sample's Kubernetes manifests, read as the API server would read them (there is no cluster or
 * kubectl here). Every document is parsed twice: as plain YAML (the `yaml` package) and into
 * @kubernetes/client-node's typed models, which drop any field the Kubernetes schema does not know;
 * the two must agree, so a misspelled field (`readOnlyRootFileSystem`) fails here instead of being
 * ignored by the cluster.
 */
const root = new URL('..', import.meta.url).pathname;
const FOLDERS = ['sample/k8s/lease', 'sample/k8s/sidecar'];

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
});

describe.each(FOLDERS)('the probes and metrics in %s', (folder) => {
  it('probe liveness on /health and readiness on /healthz, and let Prometheus find /metrics on the app port', async () => {
    const { manifests } = await readFolder(folder);
    const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
    const app = deployment.spec!.template.spec!.containers.find((container) => container.name === 'app')!;
    expect(app.livenessProbe?.httpGet).toMatchObject({ path: '/health', port: 'http' });
    expect(app.readinessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    const http = app.ports!.find((port) => port.name === 'http')!;
    expect(deployment.spec!.template.metadata!.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(http.containerPort),
      'prometheus.io/path': '/metrics',
    });
  });
});

describe('the sample image and its manifests', () => {
  it('run the app as the user the Dockerfile sets', async () => {
    const dockerfile = await readFile(join(root, 'sample/Dockerfile'), 'utf8');
    const [, uid] = /^USER (\d+)(?::\d+)?$/m.exec(dockerfile) ?? [];
    expect(uid, 'a numeric USER in sample/Dockerfile').toBeDefined();
    for (const folder of FOLDERS) {
      const { manifests } = await readFolder(folder);
      const [deployment] = ofKind<V1Deployment>(manifests, 'Deployment');
      const app = deployment.spec!.template.spec!.containers.find((container) => container.name === 'app')!;
      expect(effectiveSecurityContext(deployment, app).runAsUser, folder).toBe(Number(uid));
    }
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
