import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnedProcess, type ProcessExit } from './child-process.js';
import { REPO_ROOT } from './repo-root.js';
import { tsc } from './tsc.js';

/** Where the spec compiles the library, apart from dist/ and from the elector command's spec. */
const OUT_DIR = '.build/kubectl-leader-spec';
const CLI = join(REPO_ROOT, OUT_DIR, 'cli/kubectl-leader.cli.js');

/** What the command reads from the environment: none of the test runner's may leak in. */
const COMMAND_ENV = ['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'NO_COLOR', 'HOME'];

/** Compiles lib/ (the command included) as the package build does, into its own folder. */
export function buildKubectlLeader(): Promise<void> {
  return tsc(['-p', 'tsconfig.build.json', '--outDir', OUT_DIR, '--declaration', 'false', '--declarationMap', 'false']);
}

/** How one run of the command ended, and all it wrote. */
export interface CommandRun {
  exit: ProcessExit;
  stdout: string;
  stderr: string;
}

/**
 * One `kubectl-leader` process, from the compiled command, with only the environment given and a
 * home directory of its own (so no ~/.kube/config of the machine is found).
 */
export class KubectlLeaderProcess extends SpawnedProcess {
  constructor(args: readonly string[], env: Record<string, string>, home: string) {
    const base = { ...process.env };
    for (const name of COMMAND_ENV) delete base[name];
    super(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...base, HOME: home, ...env }, name: 'kubectl-leader' });
  }

  /** Waits for the exit, and gives what it wrote. */
  async result(): Promise<CommandRun> {
    const exit = await this.exited;
    return { exit, stdout: this.stdout.map((line) => `${line}\n`).join(''), stderr: this.stderr.map((line) => `${line}\n`).join('') };
  }
}

/** Starts commands, each with an empty home; `stopAll()` ends whichever still runs, by pid. */
export class KubectlLeader {
  private readonly running = new Set<KubectlLeaderProcess>();
  private home: string | undefined;

  async setUp(): Promise<void> {
    this.home = await mkdtemp(join(tmpdir(), 'kubectl-leader-home-'));
  }

  start(args: readonly string[], env: Record<string, string> = {}): KubectlLeaderProcess {
    const command = new KubectlLeaderProcess(args, env, this.home!);
    this.running.add(command);
    void command.exited.then(() => this.running.delete(command));
    return command;
  }

  /** Runs it to its end. */
  run(args: readonly string[], env: Record<string, string> = {}): Promise<CommandRun> {
    return this.start(args, env).result();
  }

  async tearDown(): Promise<void> {
    await Promise.all([...this.running].map((command) => command.kill()));
    if (this.home !== undefined) await rm(this.home, { recursive: true, force: true });
  }
}
