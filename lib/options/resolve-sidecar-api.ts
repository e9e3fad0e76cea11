import { isIP } from 'node:net';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import { DEFAULT_ELECTION, SIDECAR_API_DEFAULTS } from '../leader-election.constants.js';

/** Where and for which election the drop-in for the leader-elector sidecar answers. */
export interface ResolvedSidecarApi {
  /** An IP address to listen on ('localhost' is resolved to 127.0.0.1 here). */
  host: string;
  /** 0 lets the OS pick a free port. */
  port: number;
  election: string;
}

const SIDECAR_API_KEYS = ['port', 'host', 'election'];
const OPTION = 'serveSidecarApi';

/**
 * Validates `serveSidecarApi` against the elections already resolved: `true` means the defaults,
 * `false` or absent means no server. Throws a LeaderElectionConfigError naming the option, the
 * value and the fix.
 */
export function resolveSidecarApi(
  value: unknown,
  elections: readonly { name: string; backend: string }[],
): ResolvedSidecarApi | undefined {
  if (value === undefined || value === false) return undefined;
  const options: Record<string, unknown> = value === true ? {} : (value as Record<string, unknown>);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new LeaderElectionConfigError(OPTION, value, 'Use true (answer on 127.0.0.1:4040), or an object such as { port: 4040, host: \'127.0.0.1\', election: \'default\' }.');
  }
  for (const key of Object.keys(options)) {
    if (!SIDECAR_API_KEYS.includes(key)) {
      throw new LeaderElectionConfigError(`${OPTION}.${key}`, options[key], `There is no such option. Known options here: ${SIDECAR_API_KEYS.join(', ')}.`);
    }
  }

  const port = options.port ?? SIDECAR_API_DEFAULTS.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new LeaderElectionConfigError(`${OPTION}.port`, port, 'Use a TCP port from 1 to 65535 (the sidecar\'s was 4040), or 0 to let the system pick a free one.');
  }

  const rawHost = options.host ?? SIDECAR_API_DEFAULTS.host;
  // Only addresses: a host name would be resolved at listen time to whichever address comes first.
  if (typeof rawHost !== 'string' || (rawHost !== 'localhost' && isIP(rawHost) === 0)) {
    throw new LeaderElectionConfigError(`${OPTION}.host`, rawHost, 'Use an IP address: \'127.0.0.1\' (the default) answers this pod\'s own containers only, \'0.0.0.0\' answers other pods too. \'localhost\' means 127.0.0.1.');
  }
  const host = rawHost === 'localhost' ? '127.0.0.1' : rawHost;

  const election = options.election ?? DEFAULT_ELECTION;
  const served = elections.find((candidate) => candidate.name === election);
  if (typeof election !== 'string' || served === undefined) {
    throw new LeaderElectionConfigError(`${OPTION}.election`, election, `Name a configured election (configured: ${elections.map((e) => `'${e.name}'`).join(', ')}).`);
  }
  if (served.backend === 'sidecar') {
    throw new LeaderElectionConfigError(`${OPTION}.election`, election, `Election '${election}' asks a leader-elector sidecar itself, so serving its answer would only repeat the sidecar (or, on the same port, ask itself). Serve an election with backend 'lease', or remove the sidecar and switch this election to 'lease'.`);
  }
  return { host, port, election };
}
