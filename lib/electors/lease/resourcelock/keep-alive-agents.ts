import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/**
 * How long a connection may sit unused before this side closes it (ms). Below the idle timeouts of
 * servers and load balancers in front of an apiserver, so that a request is not sent on a
 * connection the server is closing at that very moment. A server that announces its own idle
 * timeout (`Keep-Alive: timeout=N`) is honoured by Node, one second early.
 */
export const IDLE_SOCKET_TIMEOUT_MS = 30_000;

/** The settings of an agent that decide which connections it may share: TLS material, server name. */
type AgentSettings = ReadonlyMap<string, unknown>;

interface CurrentAgent {
  readonly kind: 'http' | 'https';
  readonly settings: AgentSettings;
  readonly agent: HttpAgent;
}

/**
 * One keep-alive agent for everything a LeaseLock sends: its requests and its watch share
 * connections, so a leader renewing every retry period makes one TCP connection (one TLS
 * handshake) instead of one per request.
 *
 * @kubernetes/client-node 1.4 builds a new agent for every request, after applying the kubeconfig
 * to it: a bearer token (a service-account token file is re-read when it rotates), exec and OIDC
 * credentials, and TLS material that it reads from disk again each time (CA, client certificate
 * and key, including those an exec plugin returns). This class takes that fresh agent and hands
 * back the kept-alive one with the same TLS settings. Credentials sent as headers are untouched
 * (they are applied per request, not per connection); when the TLS settings change (a rotated
 * client certificate, a new CA) a new agent takes over, and the old one closes each of its
 * connections as soon as the request on it ends.
 *
 * Only client-node's plain `http.Agent` and `https.Agent` are replaced. With a `proxy-url`,
 * client-node's proxy agent is used as it is, one per request, as before.
 *
 * Sockets are not limited per host (`maxSockets` stays Infinity): a watch holds its connection
 * for minutes, and a renew must never queue behind it.
 */
export class KeepAliveAgents {
  private current: CurrentAgent | undefined;
  /** Replaced agents whose connections are still busy: each closes as its request ends. */
  private readonly retired = new Set<HttpAgent>();
  private closed = false;

  constructor(private readonly idleSocketTimeoutMs = IDLE_SOCKET_TIMEOUT_MS) {}

  /**
   * The agent to send a request with, in place of `perCall`, the one client-node made for it.
   * After close(), and for agents it does not know (proxies), `perCall` itself.
   */
  agentFor<T>(perCall: T): T | HttpAgent {
    if (this.closed) return perCall;
    const kind = kindOf(perCall);
    if (kind === undefined) return perCall;
    const settings = settingsOf((perCall as HttpAgent & { options?: object }).options);
    const current = this.current;
    if (current !== undefined && current.kind === kind && sameSettings(current.settings, settings)) return current.agent;
    if (current !== undefined) this.retire(current.agent);
    const options = { ...Object.fromEntries(settings), keepAlive: true, maxSockets: Infinity, timeout: this.idleSocketTimeoutMs };
    const agent = kind === 'https' ? new HttpsAgent(options) : new HttpAgent(options);
    this.current = { kind, settings, agent };
    return agent;
  }

  /** Closes every connection, busy or idle; later requests get client-node's own agents. */
  close(): void {
    this.closed = true;
    this.current?.agent.destroy();
    this.current = undefined;
    for (const agent of this.retired) agent.destroy();
    this.retired.clear();
  }

  private retire(agent: HttpAgent): void {
    // Documented hook: a socket whose request ended is destroyed instead of kept for reuse.
    agent.keepSocketAlive = () => false;
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
    for (const old of this.retired) if (!hasSockets(old)) this.retired.delete(old);
    if (hasSockets(agent)) this.retired.add(agent);
  }
}

/** Exactly client-node's non-proxy agents; subclasses (hpagent, socks-proxy-agent) are left alone. */
function kindOf(agent: unknown): 'http' | 'https' | undefined {
  if (agent === null || typeof agent !== 'object') return undefined;
  const prototype = Object.getPrototypeOf(agent);
  if (prototype === HttpsAgent.prototype) return 'https';
  if (prototype === HttpAgent.prototype) return 'http';
  return undefined;
}

/** The options an agent was built with (Node keeps them as `agent.options`), without the unset ones. */
function settingsOf(options: object | undefined): AgentSettings {
  const settings = new Map<string, unknown>();
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value !== undefined && value !== null) settings.set(key, value);
  }
  return settings;
}

function sameSettings(a: AgentSettings, b: AgentSettings): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) {
    if (!b.has(key) || !sameValue(value, b.get(key))) return false;
  }
  return true;
}

/** Certificates and keys arrive as fresh Buffers (read from disk per request): compare bytes. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  return false;
}

function hasSockets(agent: HttpAgent): boolean {
  const busy = Object.values(agent.sockets).some((sockets) => (sockets?.length ?? 0) > 0);
  return busy || Object.values(agent.freeSockets).some((sockets) => (sockets?.length ?? 0) > 0);
}
