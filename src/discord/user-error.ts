/**
 * An error whose message is for the user. Handlers throw it; the router answers it ephemerally, so a
 * refusal is seen only by the person it concerns and nothing else changes.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}
