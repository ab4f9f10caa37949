/**
 * The one check of ids and names that arrive in URLs (run and order ids, owners, repositories, workflows), made at
 * the edge: the router matches no route for a path segment that fails it (404). A 3,000-character id used to reach
 * the store, which refused the over-long key with an error answered 500 (issue 16).
 */

/**
 * Far above any id spotcheck makes (a run id, a job id with its matrix values, a repository name) and well below
 * DynamoDB's 1,024-byte sort key and 2,048-byte partition key limits with their prefixes.
 */
export const MAX_ID_BYTES = 512;

/** Non-empty, at most MAX_ID_BYTES of UTF-8, and no control characters (C0 and DEL). */
export function isWellFormedId(value: string): boolean {
  if (value.length === 0 || value.length > MAX_ID_BYTES) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return Buffer.byteLength(value, 'utf8') <= MAX_ID_BYTES;
}
