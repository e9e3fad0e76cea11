import { KubeApiServer } from '../test/support/kube-apiserver/index.js';

/**
 * The test apiserver in a process of its own, for the scale benchmark: a thousand watches cost the
 * server memory and CPU that must not be counted as the candidates' (a real apiserver runs
 * elsewhere). It says `ready <url> <token>` on stdout once it serves; then the parent talks to it
 * over the IPC channel: { id, op, name? } -> { id, result }.
 */
const server = await KubeApiServer.start();
const token = server.addUser('scale');
console.log(`ready ${server.url} ${token}`);

process.on('message', async (message: { id: number; op: string; name?: string }) => {
  let result: unknown;
  switch (message.op) {
    case 'stats':
      result = { counts: server.counts(), total: server.totalRequests(), openWatches: server.openWatches() };
      break;
    case 'reset':
      server.resetCounts();
      break;
    case 'lease':
      result = server.getLease('default', message.name!) ?? null;
      break;
    case 'close':
      await server.close();
      process.send!({ id: message.id, result: null }, () => process.exit(0));
      return;
  }
  process.send!({ id: message.id, result });
});

// The bench died or was interrupted: do not outlive it.
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
