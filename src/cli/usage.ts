import { UserError } from '../errors';

/** Errors that are the user's to fix: printed without a stack, exit code 2. */
export class UsageError extends UserError {}
