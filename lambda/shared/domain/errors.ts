/** Domain errors: the HTTP handlers map each to one status code, in one place (`DOMAIN_STATUS` in `lambda/shared/adapters/http.ts`). */
export class DomainError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class CustomerNotFound extends DomainError {
  constructor(readonly idOrEmail: string) {
    super(`customer ${idOrEmail} not found`);
  }
}

export class EmailTaken extends DomainError {
  constructor(readonly email: string) {
    super(`email ${email} belongs to another customer`);
  }
}

/** The client's `If-Match` names a version that is no longer current. */
export class VersionConflict extends DomainError {
  constructor(
    readonly id: string,
    readonly currentVersion?: number,
  ) {
    super(`customer ${id} has changed since it was read`);
  }
}

/** A conditional write needs `If-Match`, and the request had none. */
export class PreconditionRequired extends DomainError {
  constructor() {
    super('this request needs an If-Match header with the customer ETag');
  }
}

/** A request header is not what its grammar allows (RFC 9110), e.g. an unquoted ETag. */
export class MalformedHeader extends DomainError {
  constructor(
    readonly header: string,
    expected: string,
  ) {
    super(`the ${header} header is malformed: expected ${expected}`);
  }
}

/**
 * The store is busy (conflicting transactions, throttling) or failing, and stayed so
 * through the retries: nothing was written, and the same request may succeed later.
 */
export class TemporarilyUnavailable extends DomainError {
  constructor(
    readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super('the customer store is busy; try again shortly', options);
  }
}
