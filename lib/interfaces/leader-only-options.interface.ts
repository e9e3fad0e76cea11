export interface LeaderOnlyOptions {
  /** The election this job belongs to. @default 'default' */
  election?: string;
}
