/** `@LeaderOnly()` cannot work as declared: raised at startup, never on a tick. */
export class LeaderOnlySetupError extends Error {
  override readonly name = 'LeaderOnlySetupError';
}
