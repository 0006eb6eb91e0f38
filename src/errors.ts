/** Typed errors, mapped to exit codes in one place (cli.ts). Messages never carry personal data. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Wrong internal-database shape: a usage error that points at --map. */
export class SchemaError extends UsageError {
  constructor(message: string) {
    super(message, 'expose users(id, email, name), orgs(id, name), memberships(user_id, org_id, role), or adapt your schema with --map views.sql (see README, "Internal database")');
    this.name = 'SchemaError';
  }
}

/** Input that cannot be read at all, or a runtime fault: exit 1. */
export class InputError extends Error {
  readonly exitCode = 1;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'InputError';
  }
}

export class InterruptedError extends Error {
  readonly exitCode = 130;
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}
