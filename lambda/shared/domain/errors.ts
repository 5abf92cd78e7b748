/** Domain errors: the HTTP handlers map each to one status code, in one place (`lambda/api/http.ts`). */
export class DomainError extends Error {
  constructor(message: string) {
    super(message);
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
