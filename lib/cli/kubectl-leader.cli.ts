#!/usr/bin/env node
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import { EXIT_FAILED, EXIT_OK, JobsCommandError } from './jobs-command.error.js';
import { COMMAND, parseJobsCommandLine, USAGE } from './jobs-flags.js';
import { CREDENTIALS_PROBLEM } from './jobs.messages.js';
import { describeSetting } from './leader-elector-flags.js';
import { painterFor } from './text-format.js';
import type { UserCredentials } from './user-credentials.js';

/**
 * `kubectl-leader`: sees and steers the @LeaderOnly() jobs of an app on the 'lease' backend
 * through its Lease, with the user's kubeconfig, printing as kubectl does. Named so that kubectl
 * runs it as a plugin: `kubectl leader jobs list` runs `kubectl-leader jobs list`. It writes only
 * annotations (pauses, requests), each with a conditional write; the leader carries them out.
 *
 * Exit status (see jobs-command.error.ts): 0 done, 1 not succeeded or could not do its work,
 * 2 a bad command line or an unknown job, 3 no outcome within --timeout.
 */
async function main(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseJobsCommandLine>;
  try {
    parsed = parseJobsCommandLine(args);
  } catch (error) {
    if (!(error instanceof JobsCommandError)) throw error;
    process.stderr.write(`${error.message}\nRun ${COMMAND} --help for the commands and flags.\n`);
    return error.exitCode;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  const { commandLine } = parsed;
  // @kubernetes/client-node takes most of the start-up time: loaded once the command line is good.
  const [{ loadUserCredentials }, { JobsLease }, { runJobsCommand }] = await Promise.all([
    import('./user-credentials.js'),
    import('./jobs-lease.js'),
    import('./jobs-commands.js'),
  ]);

  let credentials: UserCredentials;
  try {
    credentials = loadUserCredentials({ kubeconfig: commandLine.kubeconfig, context: commandLine.context });
  } catch (error) {
    if (!(error instanceof LeaderElectionConfigError)) throw error;
    process.stderr.write(`${CREDENTIALS_PROBLEM(describeSetting(error.option, error.value), error.fix)}\n`);
    return EXIT_FAILED;
  }

  const namespace = commandLine.namespace ?? credentials.contextNamespace ?? 'default';
  const lease = new JobsLease(credentials.kubeConfig, namespace, commandLine.lease, credentials.user);
  try {
    return await runJobsCommand(commandLine, lease, credentials.user, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
      paint: painterFor(process.stdout, process.env),
      now: Date.now,
    });
  } catch (error) {
    if (!(error instanceof JobsCommandError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return error.exitCode;
  } finally {
    lease.close();
  }
}

// No process.exit(): the output is written to the end first, and nothing is left to keep the
// process alive once the command closed its connections.
main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`${COMMAND}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = EXIT_FAILED;
  },
);
