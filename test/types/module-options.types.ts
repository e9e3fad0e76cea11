/**
 * Type tests, compiled by `npm run typecheck` (and so by `npm test`), never run. Each
 * `@ts-expect-error` line must fail to compile: if the types stop rejecting it, the directive is
 * unused and the typecheck fails.
 */
import { LeaderElectionModule, type LeaderElectionModuleOptions } from 'nestjs-cluster-leader';

declare const config: { get(key: string): any };

// forRoot: the options are a union keyed on `backend`.
LeaderElectionModule.forRoot({ lease: { name: 'app-leader' } });
LeaderElectionModule.forRoot({ backend: 'lease', lease: { name: 'app-leader', leaseDurationMs: 15_000 } });
LeaderElectionModule.forRoot({ backend: 'sidecar' });
LeaderElectionModule.forRoot({ backend: 'standalone', isGlobal: false });
LeaderElectionModule.forRoot({ backend: 'standalone', elections: { reports: { backend: 'lease', lease: { name: 'reports' } } } });
// @ts-expect-error backend 'lease' needs lease.name
LeaderElectionModule.forRoot({ backend: 'lease' });
// @ts-expect-error backend 'lease' needs lease.name
LeaderElectionModule.forRoot({ backend: 'lease', lease: { namespace: 'shop' } });
// @ts-expect-error backend 'auto' (the default) holds a Lease inside a cluster, so it needs lease.name
LeaderElectionModule.forRoot({ identity: 'pod-a' });
// @ts-expect-error so does an extra election on 'lease'
LeaderElectionModule.forRoot({ backend: 'standalone', elections: { reports: { backend: 'lease' } } });
// @ts-expect-error a lease block given to another backend is checked too, so it needs its name
LeaderElectionModule.forRoot({ backend: 'sidecar', lease: {} });
// @ts-expect-error a nested typo
LeaderElectionModule.forRoot({ backend: 'lease', lease: { name: 'app-leader', leaseDuration: 15 } });

// forRootAsync: the factory's result is checked as strictly.
LeaderElectionModule.forRootAsync({ useFactory: () => ({ lease: { name: 'app-leader' } }) });
LeaderElectionModule.forRootAsync({
  inject: ['CONFIG'],
  isGlobal: false,
  useFactory: async () => ({ backend: 'lease', lease: { name: 'app-leader', retryPeriodMs: 2_000 }, onStartedLeading: () => {} }),
});
LeaderElectionModule.forRootAsync({ useFactory: () => ({ backend: config.get('BACKEND'), lease: { name: config.get('LEASE') } }) });
LeaderElectionModule.forRootAsync({ useFactory: (): LeaderElectionModuleOptions => ({ backend: 'standalone' }) });
LeaderElectionModule.forRootAsync({ useFactory: () => ({ backend: 'standalone', elections: { r: { backend: 'sidecar', sidecar: { url: 'http://localhost:4040' } } } }) });
// @ts-expect-error a top-level typo
LeaderElectionModule.forRootAsync({ useFactory: () => ({ backend: 'standalone', identiy: 'pod-a' }) });
// @ts-expect-error a nested typo in a sync factory
LeaderElectionModule.forRootAsync({ useFactory: () => ({ backend: 'lease', lease: { name: 'app-leader', leaseDuration: 15 } }) });
// @ts-expect-error a nested typo in an async factory
LeaderElectionModule.forRootAsync({ useFactory: async () => ({ backend: 'lease', lease: { name: 'app-leader', leaseDuration: 15 } }) });
// @ts-expect-error a typo in an extra election's block
LeaderElectionModule.forRootAsync({ useFactory: () => ({ backend: 'standalone', elections: { r: { backend: 'sidecar', sidecar: { urll: 'x' } } } }) });
// @ts-expect-error backend 'lease' needs lease.name here too
LeaderElectionModule.forRootAsync({ useFactory: async () => ({ backend: 'lease' }) });

// The observability blocks: a prom-client Registry fits `metrics.registry` by its shape.
declare const registry: import('prom-client').Registry;
LeaderElectionModule.forRoot({ backend: 'standalone', health: { toleranceMs: 20_000 }, metrics: { registry }, tracing: {} });
LeaderElectionModule.forRootAsync({ useFactory: () => ({ backend: 'standalone', metrics: { registry, enabled: true }, tracing: { enabled: false } }) });
// @ts-expect-error a typo in the metrics block of a factory's result
LeaderElectionModule.forRootAsync({ useFactory: () => ({ backend: 'standalone', metrics: { registy: registry } }) });
// @ts-expect-error a typo in the health block
LeaderElectionModule.forRoot({ backend: 'standalone', health: { tolerance: 5 } });
