import { DEFAULT_ELECTION } from '../leader-election.constants.js';

/** Where an election's options are: `''` for the top-level (default) election, else `elections.<name>.`. */
export function optionPrefix(election: string): string {
  return election === DEFAULT_ELECTION ? '' : `elections.${election}.`;
}
