import type { ConfigurableModuleAsyncOptions } from '@nestjs/common';
import type {
  ElectionOptions,
  HealthOptions,
  LeaderElectionModuleOptions,
  LeaseOptions,
  MetricsOptions,
  SidecarOptions,
  TracingOptions,
} from './leader-election-options.interface.js';

/**
 * TypeScript checks unknown keys only in an object literal written where its type is known, as in
 * `forRoot({ ... })`; the object a factory returns is never checked that way, so a typo such as
 * `lease: { leaseDuration: 15000 }` would compile in `forRootAsync` and fail only at startup. These
 * types map every key the options do not know to `never`, so such a key fails to compile, named.
 */
type KeysOfUnion<T> = T extends unknown ? keyof T : never;
type UnknownKeysRejected<T, Known> = { [K in Exclude<KeysOfUnion<T>, KeysOfUnion<Known>>]?: never };
type ValueOf<T, K extends PropertyKey> = T extends { [P in K]?: infer V } ? V : never;

type BlocksChecked<T> = {
  lease?: UnknownKeysRejected<NonNullable<ValueOf<T, 'lease'>>, LeaseOptions>;
  sidecar?: UnknownKeysRejected<NonNullable<ValueOf<T, 'sidecar'>>, SidecarOptions>;
};

type ElectionChecked<T> = UnknownKeysRejected<T, ElectionOptions> & BlocksChecked<T>;

/** Every key of `T` that the options do not know, at any depth, mapped to `never`. */
type CheckedLeaderElectionModuleOptions<T> = UnknownKeysRejected<T, LeaderElectionModuleOptions | { isGlobal?: boolean }> &
      BlocksChecked<T> & {
        health?: UnknownKeysRejected<NonNullable<ValueOf<T, 'health'>>, HealthOptions>;
        metrics?: UnknownKeysRejected<NonNullable<ValueOf<T, 'metrics'>>, MetricsOptions>;
        tracing?: UnknownKeysRejected<NonNullable<ValueOf<T, 'tracing'>>, TracingOptions>;
        elections?: { [Name in keyof NonNullable<ValueOf<T, 'elections'>>]?: ElectionChecked<NonNullable<ValueOf<T, 'elections'>>[Name]> };
      };

/**
 * The check on a `forRootAsync` factory's result `T`: options with no unknown key at any depth. A
 * result declared as `LeaderElectionModuleOptions` (or wider) was checked where it was written.
 */
type FactoryChecked<T> = LeaderElectionModuleOptions extends T
  ? unknown
  : {
      useFactory?: (...args: any[]) =>
        | NoInfer<LeaderElectionModuleOptions & CheckedLeaderElectionModuleOptions<T>>
        | Promise<NoInfer<LeaderElectionModuleOptions & CheckedLeaderElectionModuleOptions<T>>>;
    };

/**
 * The options of `LeaderElectionModule.forRootAsync()`: Nest's `imports`, `inject` and
 * `useFactory` (or `useClass` / `useExisting` with a `create()` method), plus `isGlobal`. The
 * factory's result is checked as strictly as the options of `forRoot()`.
 *
 * @typeParam T what the factory returns; inferred, never written by hand
 */
export type LeaderElectionModuleAsyncOptions<T extends object = LeaderElectionModuleOptions> = Omit<
  ConfigurableModuleAsyncOptions<LeaderElectionModuleOptions, 'create'>,
  'useFactory'
> & {
  /**
   * Builds the options from injected providers (`inject`), synchronously or as a promise.
   * Runs once, when the app is compiled; the options are then checked as those of `forRoot()`.
   */
  useFactory?: (...args: any[]) => T | Promise<T>;
  /**
   * Register the module globally, so feature modules need not import it.
   * @default true
   */
  isGlobal?: boolean;
} & FactoryChecked<T>;
