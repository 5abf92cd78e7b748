import type { MessageLabel } from 'cdk-local-cloud';

/** `CustomerCreated 3f2a9c1e`: a customer event's type and the start of the customer's id. */
export const customerEventLabel: MessageLabel = (body) => {
  const parsed = JSON.parse(body) as { type?: unknown; customer?: { id?: unknown } };
  if (typeof parsed.type !== 'string') return undefined;
  const id = typeof parsed.customer?.id === 'string' ? ` ${parsed.customer.id.slice(0, 8)}` : '';
  return `${parsed.type}${id}`;
};
