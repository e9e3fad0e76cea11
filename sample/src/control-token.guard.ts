import { ForbiddenException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The guard of the sample's mutating endpoints (pause, resume, run): a bearer token, the value of
 * SAMPLE_CONTROL_TOKEN. Unset, they are off (403 says so); set, a request needs
 * `Authorization: Bearer <that value>` (401 without it, 403 with another). Copy it into an app as
 * it is, or write your own guard (an identity provider, mTLS, a network policy in front).
 *
 * A bearer token travels in a header that browsers never add by themselves, so a page on another
 * site cannot make a logged-in browser steer the jobs (no CSRF); a guard that trusts a cookie
 * would need protection of its own.
 */
@Injectable()
export class ControlTokenGuard implements CanActivate {
  /** The token's SHA-256, compared in constant time; null when the variable is unset. */
  private readonly expected = digestOf(process.env.SAMPLE_CONTROL_TOKEN?.trim() || null);

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === null) {
      throw new ForbiddenException(
        'The control endpoints are off: SAMPLE_CONTROL_TOKEN is not set. Start the sample with SAMPLE_CONTROL_TOKEN=<a secret> ' +
          'and send it as Authorization: Bearer <the secret>.',
      );
    }
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers.authorization;
    const token = typeof header === 'string' ? /^Bearer +(.+)$/i.exec(header.trim())?.[1] : undefined;
    if (token === undefined) {
      throw new UnauthorizedException('This endpoint needs Authorization: Bearer <SAMPLE_CONTROL_TOKEN>.');
    }
    if (!timingSafeEqual(digestOf(token)!, this.expected)) {
      throw new ForbiddenException('The bearer token is not SAMPLE_CONTROL_TOKEN.');
    }
    return true;
  }
}

function digestOf(value: string | null): Buffer | null {
  return value === null ? null : createHash('sha256').update(value).digest();
}
