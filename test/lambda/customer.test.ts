import {
  type Customer,
  type CustomerInput,
  customerInputSchema,
  customerSchema,
  etagOf,
  ifMatchSatisfied,
  isUnchanged,
  newCustomer,
  parseIfMatch,
  replaceCustomer,
} from '../../lambda/shared/domain/customer';
import { MalformedHeader } from '../../lambda/shared/domain/errors';
import { storedAvatar } from './http-fixtures';

const ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

const validInput = {
  fullName: 'Ada Lovelace',
  email: 'ada@example.com',
  gitHubUsername: 'ada',
  dateOfBirth: '1815-12-10',
  marketingOptIn: true,
};

const current: Customer = {
  id: ID,
  ...validInput,
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-02-01T00:00:00.000Z',
  version: 3,
};

const AVATAR = storedAvatar;

/** The fields of the issues a parse of `value` reports. */
const failingFields = (value: unknown): string[] => {
  const result = customerInputSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

describe('customerInputSchema', () => {
  it('accepts a valid customer unchanged', () => {
    expect(customerInputSchema.parse(validInput)).toEqual(validInput);
  });

  it('trims the name and trims and lower-cases the email', () => {
    const parsed = customerInputSchema.parse({
      ...validInput,
      fullName: '  Ada Lovelace ',
      email: ' Ada@Example.COM ',
    });

    expect(parsed.fullName).toBe('Ada Lovelace');
    expect(parsed.email).toBe('ada@example.com');
  });

  it('defaults marketingOptIn to false and leaves gitHubUsername optional', () => {
    const { marketingOptIn: _optIn, gitHubUsername: _github, ...minimal } = validInput;

    expect(customerInputSchema.parse(minimal)).toEqual({ ...minimal, marketingOptIn: false });
  });

  it('rejects unknown fields, including the server-owned ones', () => {
    const result = customerInputSchema.safeParse({ ...validInput, id: ID, version: 7 });

    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['id', 'version'] }),
    ]);
  });

  it('reports every missing field', () => {
    expect(failingFields({}).sort()).toEqual(['dateOfBirth', 'email', 'fullName']);
  });

  it.each([
    ['an empty name', { fullName: '' }],
    ['a blank name', { fullName: '   ' }],
    ['a name over 200 characters', { fullName: 'A'.repeat(201) }],
    ['a number for a name', { fullName: 42 }],
  ])('rejects %s', (_name, change) => {
    expect(failingFields({ ...validInput, ...change })).toEqual(['fullName']);
  });

  it('accepts a name of exactly 200 characters', () => {
    expect(failingFields({ ...validInput, fullName: 'A'.repeat(200) })).toEqual([]);
  });

  it.each([
    'not-an-email',
    'ada@',
    '@example.com',
    'ada example@example.com',
    `${'a'.repeat(250)}@example.com`,
  ])('rejects the email %j', (email) => {
    expect(failingFields({ ...validInput, email })).toEqual(['email']);
  });

  it.each(['a', 'A1', 'ada-lovelace', 'a-b-c', 'a'.repeat(39)])(
    'accepts the GitHub username %j',
    (gitHubUsername) => {
      expect(failingFields({ ...validInput, gitHubUsername })).toEqual([]);
    },
  );

  it.each(['', '-abc', 'abc-', 'a--b', 'a_b', 'a.b', 'a'.repeat(40)])(
    'rejects the GitHub username %j',
    (gitHubUsername) => {
      expect(failingFields({ ...validInput, gitHubUsername })).toEqual(['gitHubUsername']);
    },
  );

  it.each(['2024-02-29', '2000-02-29', '1900-01-01'])('accepts the date of birth %s', (date) => {
    expect(failingFields({ ...validInput, dateOfBirth: date })).toEqual([]);
  });

  it.each([
    '2023-02-29',
    '2023-02-30',
    '2023-04-31',
    '2023-13-01',
    '1990-1-1',
    '1990-01-01T00:00:00Z',
    '01/02/1990',
  ])('rejects the date of birth %s', (date) => {
    expect(failingFields({ ...validInput, dateOfBirth: date })).toEqual(['dateOfBirth']);
  });

  describe('with the clock at 2030-06-15 23:59 UTC', () => {
    beforeEach(() => {
      jest.useFakeTimers({ now: new Date('2030-06-15T23:59:59.000Z') });
    });
    afterEach(() => {
      jest.useRealTimers();
    });

    it('accepts a birth date of today', () => {
      expect(failingFields({ ...validInput, dateOfBirth: '2030-06-15' })).toEqual([]);
    });

    it('rejects a birth date of tomorrow', () => {
      const result = customerInputSchema.safeParse({ ...validInput, dateOfBirth: '2030-06-16' });

      expect(result.error?.issues).toEqual([
        expect.objectContaining({ path: ['dateOfBirth'], message: 'must not be in the future' }),
      ]);
    });
  });

  it('rejects a string for marketingOptIn', () => {
    expect(failingFields({ ...validInput, marketingOptIn: 'true' })).toEqual(['marketingOptIn']);
  });
});

describe('customerSchema', () => {
  it('strips the table keys from a stored item', () => {
    const item = { pk: `CUSTOMER#${ID}`, sk: 'PROFILE', ...current };

    expect(customerSchema.parse(item)).toEqual(current);
  });

  it('reads a stored avatar, and refuses one without its version id', () => {
    expect(customerSchema.parse({ ...current, avatar: AVATAR }).avatar).toStrictEqual(AVATAR);
    const { versionId: _missing, ...withoutVersion } = AVATAR;
    expect(customerSchema.safeParse({ ...current, avatar: withoutVersion }).success).toBe(false);
  });
});

describe('newCustomer', () => {
  it('starts at version 1 with both timestamps set to now', () => {
    const now = new Date('2025-03-01T10:00:00.000Z');

    expect(newCustomer(ID, validInput, now)).toEqual({
      id: ID,
      ...validInput,
      createdAt: '2025-03-01T10:00:00.000Z',
      updatedAt: '2025-03-01T10:00:00.000Z',
      version: 1,
    });
  });
});

describe('isUnchanged', () => {
  const sameInput: CustomerInput = { ...validInput };

  it('is true when every client field is equal, whatever the server fields say', () => {
    expect(isUnchanged(current, sameInput)).toBe(true);
    expect(
      isUnchanged({ ...current, version: 99, updatedAt: '2030-01-01T00:00:00.000Z' }, sameInput),
    ).toBe(true);
  });

  it.each([
    ['fullName', { fullName: 'Augusta Ada King' }],
    ['email', { email: 'ada@analytical.example' }],
    ['gitHubUsername', { gitHubUsername: 'countess' }],
    ['dateOfBirth', { dateOfBirth: '1815-12-11' }],
    ['marketingOptIn', { marketingOptIn: false }],
  ])('is false when %s differs', (_field, change) => {
    expect(isUnchanged(current, { ...sameInput, ...change })).toBe(false);
  });

  it('is false when the input drops the gitHubUsername', () => {
    const { gitHubUsername: _dropped, ...withoutGitHub } = sameInput;

    expect(isUnchanged(current, withoutGitHub)).toBe(false);
  });
});

describe('replaceCustomer', () => {
  it('takes the client fields from the input, keeps id and createdAt, bumps version', () => {
    const now = new Date('2025-03-01T10:00:00.000Z');
    const { gitHubUsername: _dropped, ...input } = { ...validInput, fullName: 'Augusta Ada King' };

    const replaced = replaceCustomer(current, input, now);

    expect(replaced).toEqual({
      id: ID,
      ...input,
      createdAt: current.createdAt,
      updatedAt: '2025-03-01T10:00:00.000Z',
      version: 4,
    });
    expect(replaced).not.toHaveProperty('gitHubUsername');
  });

  it('keeps the avatar, which only the avatar function writes', () => {
    const withAvatar: Customer = { ...current, avatar: AVATAR };

    const replaced = replaceCustomer(
      withAvatar,
      { ...validInput, fullName: 'Ada King' },
      new Date(),
    );

    expect(replaced.avatar).toStrictEqual(AVATAR);
    expect(replaced.version).toBe(4);
  });

  it('adds no avatar field to a customer without one', () => {
    expect(replaceCustomer(current, validInput, new Date())).not.toHaveProperty('avatar');
  });
});

describe('etagOf, parseIfMatch and ifMatchSatisfied', () => {
  it('tags a version as a strong, quoted ETag', () => {
    expect(etagOf({ version: 3 })).toBe('"3"');
  });

  it.each(['"3"', '*', ' * ', '"1", "3"', ' "3" ', '"2","3"', '"1", , "3"', 'W/"2", "3"'])(
    'accepts If-Match %j for version 3',
    (ifMatch) => {
      expect(ifMatchSatisfied(parseIfMatch(ifMatch), { version: 3 })).toBe(true);
    },
  );

  it.each(['"2"', 'W/"3"', '"33"', '""'])('refuses If-Match %j for version 3', (ifMatch) => {
    expect(ifMatchSatisfied(parseIfMatch(ifMatch), { version: 3 })).toBe(false);
  });

  it.each(['3', '"3', 'garbage!!', 'W/3', '"3" "4"', '*, "3"', ',', '"a"b"'])(
    'calls If-Match %j malformed, naming the header',
    (ifMatch) => {
      expect(() => parseIfMatch(ifMatch)).toThrow(MalformedHeader);
      expect(() => parseIfMatch(ifMatch)).toThrow(/If-Match/);
    },
  );
});
