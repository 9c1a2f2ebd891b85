// An error as one line of text for logs and messages, on both sides (the
// function and the proxy). Never includes a stack.

/** `Name: message` (the message alone for a plain Error): says which library failed. */
export function errorName(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}

/** `CODE: message` when the error carries a system code (ECONNREFUSED…), else the message. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
