import type { CustomerEvent } from '../shared/domain/events';

/** Well below the function timeout (30 s), leaving time for the claim and its completion. */
const SEND_TIMEOUT_MS = 5_000;

export class NotificationFailed extends Error {
  constructor(readonly status: number) {
    super(`the notification provider answered ${status}`);
    this.name = 'NotificationFailed';
  }
}

/**
 * Asks the provider to send the welcome. The event id is the Idempotency-Key, so a
 * retry after a send whose answer was lost does not send a second message.
 */
export const sendWelcome = async (
  endpoint: string,
  apiKey: string,
  event: CustomerEvent,
): Promise<void> => {
  const { id, email, fullName } = event.customer;
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': event.eventId,
    },
    body: JSON.stringify({ template: 'welcome', customerId: id, email, fullName }),
    signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
  });
  // Release the connection: undici holds it until the body is read or cancelled.
  await response.body?.cancel();
  if (!response.ok) throw new NotificationFailed(response.status);
};
