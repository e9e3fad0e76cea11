import type { ElectionState } from '../leadership/election-state.js';

/** The real sidecar's Content-Type: Go's net/http sniffed its JSON body as plain text. */
export const LEADER_ELECTOR_CONTENT_TYPE = 'text/plain; charset=utf-8';

/**
 * The name the drop-in answers for one election, read from memory. It names this pod only while
 * this pod may act as leader (the same check as the @LeaderOnly gate), so the pod's other
 * containers never lead when the app itself would not: before the first renew, after a missed
 * renew deadline, and from the moment shutdown begins. Otherwise it is the leader this pod
 * observes, or "" when none is known (the real sidecar's "unknown").
 */
export function answeredLeaderName(state: ElectionState): string {
  if (state.isLeader()) return state.identity;
  const observed = state.state.leader;
  return observed === null || observed === state.identity ? '' : observed;
}

/**
 * The body exactly as Go's `json.Marshal(LeaderData{Name: name})` writes it: JSON.stringify, plus
 * Go's HTML-safe escapes of `<`, `>` and `&` and its escapes of U+2028 and U+2029.
 */
export function leaderElectorBody(name: string): Buffer {
  const json = JSON.stringify({ name }).replace(/[<>&\u2028\u2029]/g, (char) =>
    `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return Buffer.from(json, 'utf8');
}

/**
 * The response headers in the order and case Go's net/http writes them for the sidecar's handler
 * (`Date`, `Content-Length`, `Content-Type`, then `Connection` only when the connection ends or an
 * HTTP/1.0 client asked to keep it). Node would add `Connection: keep-alive` and `Keep-Alive`,
 * which the real sidecar never sent; the server removes those.
 */
export function leaderElectorHeaders(
  body: Buffer,
  now: Date,
  connection: 'close' | 'keep-alive' | undefined,
): Record<string, string> {
  return {
    Date: now.toUTCString(),
    'Content-Length': String(body.length),
    'Content-Type': LEADER_ELECTOR_CONTENT_TYPE,
    ...(connection && { Connection: connection }),
  };
}
