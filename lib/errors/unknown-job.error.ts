/** A job was asked for by a name no @LeaderOnly() job has, or that cannot be steered: the message lists what can. */
export class UnknownJobError extends Error {
  override readonly name = 'UnknownJobError';
}
