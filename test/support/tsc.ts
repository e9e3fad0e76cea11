import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './repo-root.js';

/** The repository's own TypeScript compiler, not whichever `tsc` is on PATH. */
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

/**
 * Runs tsc with `args` in `cwd` to the end. Rejects if it fails, with its output on the error's
 * `stdout` (where tsc reports type errors).
 */
export async function tsc(args: string[], cwd = REPO_ROOT): Promise<void> {
  await promisify(execFile)(process.execPath, [TSC, ...args], { cwd });
}
