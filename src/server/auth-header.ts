/**
 * The one reader of `Authorization` headers. RFC 9110 §11.1/§11.4: the scheme is case-insensitive and is followed by
 * one or more spaces and the credentials; a bearer credential is one token68 (RFC 6750 §2.1). `token` is the scheme
 * GitHub also accepts for the same bearer credential. Anything else (another scheme, two credentials, an empty one)
 * is no credential. Parsed with indexOf and a linear pattern, never a backtracking one.
 */

const SCHEMES: readonly string[] = ['bearer', 'token'];
/** token68 (RFC 9110 §11.2). */
const TOKEN68 = /^[\w.~+/-]+=*$/;

/** The bearer credential of an `Authorization` header, or undefined when it holds none (or more than one). */
export function bearerCredential(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  if (!SCHEMES.includes(header.slice(0, space).toLowerCase())) return undefined;
  let start = space;
  while (start < header.length && header[start] === ' ') start++;
  let end = header.length;
  while (end > start && (header[end - 1] === ' ' || header[end - 1] === '\t')) end--;
  const credential = header.slice(start, end);
  return TOKEN68.test(credential) ? credential : undefined;
}
