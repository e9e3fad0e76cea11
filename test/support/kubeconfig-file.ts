import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeApiServer } from './kube-apiserver/index.js';

/**
 * Gives a child process an API user of its own, as each pod has its own service account: adds
 * `user` to the test apiserver and writes its kubeconfig to `<directory>/<user>.kubeconfig`.
 * Resolves with that path, for the process's KUBECONFIG.
 */
export async function writeUserKubeConfig(server: KubeApiServer, user: string, directory: string): Promise<string> {
  server.addUser(user);
  const file = join(directory, `${user}.kubeconfig`);
  await writeFile(file, server.kubeConfig(user).exportConfig());
  return file;
}
