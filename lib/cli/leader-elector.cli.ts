#!/usr/bin/env node
import { ConsoleLogger, Logger } from '@nestjs/common';
import type { KubeConfig } from '@kubernetes/client-node';
import { createElector } from '../electors/create-elector.js';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import { LeaderElectorFlagError } from '../errors/leader-elector-flag.error.js';
import { ElectionState } from '../leadership/election-state.js';
import { resolveOptions, type ResolvedOptions } from '../options/resolve-options.js';
import { SidecarApiServer } from '../sidecar-api/sidecar-api.server.js';
import { loadElectorCredentials } from './elector-credentials.js';
import { COMMAND, flagErrorFromConfigError, parseLeaderElectorFlags, USAGE, type LeaderElectorCommandLine } from './leader-elector-flags.js';

/**
 * `nestjs-cluster-leader-elector`: the library's Lease election alone, for pods whose app is not
 * a Nest app, as a drop-in for the old leader-elector sidecar container (same flags, same answer
 * on --http). It uses the library's parts directly (options, ElectionState, LeaseElector,
 * SidecarApiServer) rather than a Nest application context: there is nothing to inject, and
 * Nest's shutdown hooks re-raise the signal, which would end the process with 143 instead of 0.
 *
 * Exit status: 0 after a signal and a clean release, 2 for a bad command line, 1 when it cannot
 * start (no usable Kubernetes credentials, the --http port is taken) or fails to stop.
 */

const logger = new Logger('LeaderElector');

async function main(args: string[]): Promise<void> {
  let commandLine: LeaderElectorCommandLine;
  let options: ResolvedOptions;
  try {
    commandLine = parseLeaderElectorFlags(args);
    if (commandLine.help) {
      process.stdout.write(USAGE);
      return;
    }
    options = resolveCommandLine(commandLine);
  } catch (error) {
    if (!(error instanceof LeaderElectorFlagError)) throw error;
    process.stderr.write(`${error.message}\nRun ${COMMAND} --help for the flags.\n`);
    process.exitCode = 2;
    return;
  }

  const election = options.elections[0]!;
  // Credentials first: when they cannot work, nothing listens and nothing campaigns.
  let kubeConfigs: Map<string, KubeConfig>;
  try {
    kubeConfigs = election.backend === 'lease' ? new Map([[election.name, loadElectorCredentials(commandLine.useClusterCredentials)]]) : new Map();
  } catch (error) {
    if (!(error instanceof LeaderElectionConfigError)) throw error;
    process.stderr.write(`${flagErrorFromConfigError(error, commandLine.given).message}\n`);
    process.exitCode = 1;
    return;
  }

  // From here on the first SIGTERM or SIGINT stops gracefully; a second one ends it at once.
  const signalled = firstSignal();
  const state = new ElectionState(election.name, election.identity);
  const server = SidecarApiServer.fromOptions(options, new Map([[election.name, state]]));
  try {
    await server?.listen();
  } catch (error) {
    if (!(error instanceof LeaderElectionConfigError)) throw error;
    process.stderr.write(`${flagErrorFromConfigError(error, commandLine.given).message}\n`);
    process.exitCode = 1;
    signalled.cancel();
    return;
  }
  // No jobs run here, so there is nothing to drain before a release.
  const elector = createElector(election, state, kubeConfigs, { drain: async () => true });
  if (election.backend === 'lease') {
    const { namespace, name, leaseDurationMs, renewDeadlineMs, retryPeriodMs } = election.lease;
    logger.log(`Electing on the Lease ${namespace}/${name} as ${election.identity} (lease duration ${leaseDurationMs} ms, renew deadline ${renewDeadlineMs} ms, retry period ${retryPeriodMs} ms).`);
  }
  elector.start();
  // The library unrefs its timers so that an app can exit; this command must run until signalled.
  const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);

  const signal = await signalled.received;
  clearInterval(keepAlive);
  logger.log(`${signal}: stopping; releasing the Lease if this pod holds it.`);
  // As in the module: stop leading at once (the answer stops naming this pod), release the Lease,
  // then stop answering. There are no jobs here to wait for.
  state.close();
  try {
    await elector.stop();
    await server?.close();
  } catch (error) {
    logger.error(`Could not stop cleanly: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
  // Nothing is left to keep the process alive: it exits by itself, with exitCode (0 unless set).
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** The first SIGTERM or SIGINT; its listeners go as soon as one came, so a second one is fatal. */
function firstSignal(): { received: Promise<NodeJS.Signals>; cancel: () => void } {
  let onSignal!: (signal: NodeJS.Signals) => void;
  const cancel = () => {
    for (const name of SIGNALS) process.removeListener(name, onSignal);
  };
  const received = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (signal) => {
      cancel();
      resolve(signal);
    };
    for (const name of SIGNALS) process.on(name, onSignal);
  });
  return { received, cancel };
}

/** The flags as the library's options, validated by the library itself; errors name the flag. */
function resolveCommandLine({ options, given }: LeaderElectorCommandLine): ResolvedOptions {
  try {
    return resolveOptions(options);
  } catch (error) {
    if (error instanceof LeaderElectionConfigError) throw flagErrorFromConfigError(error, given);
    throw error;
  }
}

// Kubernetes logs have no terminal: colour only for a person at one.
Logger.overrideLogger(new ConsoleLogger({ prefix: COMMAND, colors: process.stdout.isTTY === true && !process.env.NO_COLOR }));

main(process.argv.slice(2)).catch((error: unknown) => {
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
