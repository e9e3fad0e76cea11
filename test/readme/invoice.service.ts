import { Injectable } from '@nestjs/common';

export interface Invoice {
  id: string;
}

/** The README's invoice store: here in memory, so the README's tests can see what the job wrote. */
@Injectable()
export class InvoiceService {
  readonly closed: Array<{ id: string; fencingToken: number | null }> = [];
  /** Called by close() before it records the invoice: lets a test act while the job is running. */
  beforeClose: (invoice: Invoice) => void | Promise<void> = () => {};

  constructor(private readonly pending: Invoice[] = []) {}

  async open(): Promise<Invoice[]> {
    return this.pending.filter((invoice) => !this.closed.some((closed) => closed.id === invoice.id));
  }

  async close(invoice: Invoice, { fencingToken }: { fencingToken: number | null }): Promise<void> {
    await this.beforeClose(invoice);
    this.closed.push({ id: invoice.id, fencingToken });
  }
}
