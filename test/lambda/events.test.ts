import type { Customer } from '../../lambda/shared/domain/customer';
import {
  customerEventSchema,
  type ProfileChange,
  toCustomerEvent,
} from '../../lambda/shared/domain/events';

const meta = { eventId: 'stream-event-1', occurredAt: new Date('2025-03-04T05:06:07.000Z') };

const ada: Customer = {
  id: '0b9f6c1e-3f7a-4c2d-9e8b-1a2b3c4d5e6f',
  fullName: 'Ada Lovelace',
  email: 'ada@example.com',
  gitHubUsername: 'ada',
  dateOfBirth: '1815-12-10',
  marketingOptIn: false,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  version: 1,
};

/** The next version of `customer` as a write would store it. */
const nextVersion = (customer: Customer, changes: Partial<Customer> = {}): Customer => ({
  ...customer,
  ...changes,
  updatedAt: '2025-02-02T00:00:00.000Z',
  version: customer.version + 1,
});

describe('toCustomerEvent', () => {
  it('turns an INSERT into CustomerCreated carrying the new customer and no previous', () => {
    const event = toCustomerEvent({ kind: 'INSERT', newImage: ada }, meta);

    expect(event).toStrictEqual({
      eventId: 'stream-event-1',
      occurredAt: '2025-03-04T05:06:07.000Z',
      type: 'CustomerCreated',
      version: 1,
      customer: ada,
      marketingConsent: 'none',
    });
    expect(customerEventSchema.safeParse(event).success).toBe(true);
  });

  it('turns a MODIFY into CustomerUpdated carrying the new version and the previous customer', () => {
    const renamed = nextVersion(ada, { fullName: 'Augusta Ada King' });

    const event = toCustomerEvent({ kind: 'MODIFY', oldImage: ada, newImage: renamed }, meta);

    expect(event).toStrictEqual({
      eventId: 'stream-event-1',
      occurredAt: '2025-03-04T05:06:07.000Z',
      type: 'CustomerUpdated',
      version: 2,
      customer: renamed,
      previous: ada,
      marketingConsent: 'none',
    });
    expect(customerEventSchema.safeParse(event).success).toBe(true);
  });

  it('turns a REMOVE into CustomerDeleted carrying the last stored customer and its version', () => {
    const stored = nextVersion(ada, { fullName: 'Augusta Ada King' });

    const event = toCustomerEvent({ kind: 'REMOVE', oldImage: stored }, meta);

    expect(event).toStrictEqual({
      eventId: 'stream-event-1',
      occurredAt: '2025-03-04T05:06:07.000Z',
      type: 'CustomerDeleted',
      version: 2,
      customer: stored,
      marketingConsent: 'none',
    });
    expect(customerEventSchema.safeParse(event).success).toBe(true);
  });

  it('skips a MODIFY that changed only version and updatedAt', () => {
    expect(
      toCustomerEvent({ kind: 'MODIFY', oldImage: ada, newImage: nextVersion(ada) }, meta),
    ).toBeUndefined();
  });

  it('publishes a MODIFY that removed an optional field, even with nothing else changed', () => {
    const { gitHubUsername: _removed, ...withoutUsername } = ada;

    const event = toCustomerEvent(
      { kind: 'MODIFY', oldImage: ada, newImage: nextVersion(withoutUsername) },
      meta,
    );

    expect(event?.type).toBe('CustomerUpdated');
    expect(event?.customer).not.toHaveProperty('gitHubUsername');
    expect(event?.previous?.gitHubUsername).toBe('ada');
  });

  describe('the avatar, which the avatar function records with a version bump', () => {
    const avatar = {
      key: `avatars/${ada.id}.jpg`,
      versionId: 'v1',
      contentType: 'image/jpeg',
      width: 256,
      height: 256,
      bytes: 7000,
      updatedAt: '2025-02-02T00:00:00.000Z',
      sequencer: '00000000000000000000000000000001',
    };

    it('publishes a MODIFY that recorded an avatar', () => {
      const event = toCustomerEvent(
        { kind: 'MODIFY', oldImage: ada, newImage: nextVersion(ada, { avatar }) },
        meta,
      );

      expect(event?.type).toBe('CustomerUpdated');
      expect(event?.customer.avatar).toStrictEqual(avatar);
    });

    it('publishes a MODIFY that replaced the avatar with another', () => {
      const before = { ...ada, avatar };
      const after = nextVersion(before, { avatar: { ...avatar, versionId: 'v2' } });

      expect(
        toCustomerEvent({ kind: 'MODIFY', oldImage: before, newImage: after }, meta)?.type,
      ).toBe('CustomerUpdated');
    });

    it('compares the avatar by value: an equal copy is no change', () => {
      const before = { ...ada, avatar };
      const after = nextVersion(before, { avatar: { ...avatar } });

      expect(
        toCustomerEvent({ kind: 'MODIFY', oldImage: before, newImage: after }, meta),
      ).toBeUndefined();
    });
  });

  it('takes eventId and occurredAt from the change metadata, unchanged', () => {
    const event = toCustomerEvent(
      { kind: 'INSERT', newImage: ada },
      { eventId: 'another-id', occurredAt: new Date(0) },
    );

    expect(event?.eventId).toBe('another-id');
    expect(event?.occurredAt).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('marketingConsent', () => {
  const optedIn: Customer = { ...ada, marketingOptIn: true };

  it.each<[string, ProfileChange, string]>([
    ['granted: a customer created opted in', { kind: 'INSERT', newImage: optedIn }, 'granted'],
    ['none: a customer created opted out', { kind: 'INSERT', newImage: ada }, 'none'],
    [
      'granted: an opt-in',
      { kind: 'MODIFY', oldImage: ada, newImage: nextVersion(ada, { marketingOptIn: true }) },
      'granted',
    ],
    [
      'granted: another change of a customer who stays opted in',
      {
        kind: 'MODIFY',
        oldImage: optedIn,
        newImage: nextVersion(optedIn, { fullName: 'Augusta Ada King' }),
      },
      'granted',
    ],
    [
      'revoked: an opt-out',
      {
        kind: 'MODIFY',
        oldImage: optedIn,
        newImage: nextVersion(optedIn, { marketingOptIn: false }),
      },
      'revoked',
    ],
    [
      'none: a change of a customer who stays opted out',
      { kind: 'MODIFY', oldImage: ada, newImage: nextVersion(ada, { fullName: 'A. Lovelace' }) },
      'none',
    ],
    ['revoked: deleting an opted-in customer', { kind: 'REMOVE', oldImage: optedIn }, 'revoked'],
    ['none: deleting an opted-out customer', { kind: 'REMOVE', oldImage: ada }, 'none'],
  ])('is %s', (_name, change, expected) => {
    expect(toCustomerEvent(change, meta)?.marketingConsent).toBe(expected);
  });
});
