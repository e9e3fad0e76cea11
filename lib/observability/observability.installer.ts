import { Injectable, type OnModuleInit, type OnApplicationShutdown } from '@nestjs/common';
import { ElectionRegistry } from '../election.registry.js';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';

/**
 * Connects the optional consumers (prom-client metrics, OpenTelemetry spans) to the election
 * events, as the module options ask. Each optional peer is imported here, lazily, only when its
 * option is given: an app without them neither installs nor loads them. A consumer asked for
 * whose package is missing stops the app at startup, naming the option and the install command.
 */
@Injectable()
export class ObservabilityInstaller implements OnModuleInit, OnApplicationShutdown {
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly registry: ElectionRegistry) {}

  async onModuleInit(): Promise<void> {
    const { observability, elections } = this.registry.options;
    if (observability.metrics !== undefined) {
      const prom = await importPeer('prom-client', 'metrics', 'Counter');
      const { LeaderElectionMetrics } = await import('./leader-election.metrics.js');
      const { gate, states } = this.registry;
      const pausedJobs = () => [...gate.jobs()].map((entry) => ({
        election: entry.job.election,
        job: entry.job.name,
        paused: states.get(entry.job.election)?.control?.pauseOf(entry.policy.ledgerKey) !== undefined,
      }));
      const metrics = new LeaderElectionMetrics(prom as ConstructorParameters<typeof LeaderElectionMetrics>[0], observability.metrics.registry, elections.map((election) => election.name), pausedJobs);
      const unsubscribe = this.registry.events.subscribe(metrics);
      this.unsubscribe.push(() => {
        unsubscribe();
        metrics.dispose();
      });
    }
    if (observability.tracing) {
      const api = await importPeer('@opentelemetry/api', 'tracing', 'trace');
      const { LeaderElectionTracing } = await import('./leader-election.tracing.js');
      this.unsubscribe.push(this.registry.events.subscribe(new LeaderElectionTracing(api as ConstructorParameters<typeof LeaderElectionTracing>[0])));
    }
  }

  onApplicationShutdown(): void {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
  }
}

/** The package's exports; `probe` is one of them, to tell a CommonJS `default` from the namespace. */
async function importPeer(name: string, option: string, probe: string): Promise<unknown> {
  try {
    const module = (await import(name)) as Record<string, unknown>;
    // Both peers are CommonJS: Node usually finds their named exports, and always puts them on `default`.
    return probe in module ? module : module.default;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new LeaderElectionConfigError(option, '(given)', `The \`${option}\` option needs the optional peer dependency ${name}, which is not installed: npm install ${name}. Or remove the \`${option}\` option.`);
    }
    throw error;
  }
}
