import { Injectable, Optional } from '@nestjs/common';

export interface Invoice {
  id: string;
  openedAt: Date;
}

/**
 * The README's invoice store, in memory so that the README's tests can see what the job wrote. It
 * fences as a database would: it refuses a write whose fencing token is lower than the highest it
 * has seen, and takes a write without one (null: the sidecar and standalone backends have none).
 */
@Injectable()
export class InvoiceService {
  readonly closed: Array<{ id: string; fencingToken: string | null }> = [];
  /** Called by close() before it records the invoice: lets a test act while the job is running. */
  beforeClose: (invoice: Invoice) => void | Promise<void> = () => {};
  private highestToken: bigint | null = null;

  // @Optional(): in an app, Nest has no Invoice[] to inject, and the store starts empty.
  constructor(@Optional() private readonly pending: Invoice[] = []) {}

  /** The invoices opened before `until` and not closed yet. */
  async open(until: Date): Promise<Invoice[]> {
    return this.pending.filter((invoice) => invoice.openedAt < until && !this.closed.some((closed) => closed.id === invoice.id));
  }

  async close(invoice: Invoice, { fencingToken }: { fencingToken: string | null }): Promise<void> {
    await this.beforeClose(invoice);
    if (fencingToken !== null) {
      // A decimal string that may outgrow Number.MAX_SAFE_INTEGER: compare it as a BigInt, never as a
      // string ('9' > '10'). BigInt(null) would throw: a null token is handled above.
      const token = BigInt(fencingToken);
      if (this.highestToken !== null && token < this.highestToken) throw new Error(`fencing token ${fencingToken} is stale`);
      this.highestToken = token;
    }
    this.closed.push({ id: invoice.id, fencingToken });
  }
}
