/**
 * The embedded store's identity: a random id written at creation both into the database (a document) and as a
 * marker file in its folder, and compared at start and on every health check. LevelDB keeps answering from its open
 * files after its folder is deleted or replaced, and later fails with "Database is closed", which hides why; the
 * marker makes a deleted folder, a swapped database or a lost marker a named cause instead.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors.ts';
import type { Store } from './store.ts';

/** Beside LevelDB's own files, which it ignores: it deletes only files it named itself. */
export const STORE_ID_FILE = 'spotcheck-store-id';
const ID_KIND = 'store';
const ID_KEY = 'identity';
/** The identity never expires (the store has no record without `expiresAt`). */
const NEVER = Date.UTC(9999, 0, 1);

type IdentityStore = Pick<Store, 'getDoc' | 'putDoc'>;

async function readMarker(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, STORE_ID_FILE), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function readRecorded(store: IdentityStore): Promise<string | undefined> {
  const id = (await store.getDoc(ID_KIND, ID_KEY))?.value['id'];
  return typeof id === 'string' ? id : undefined;
}

/**
 * At start: creates the identity of a new store (or of one from before identities), else checks that the folder's
 * marker and the database agree. Returns the id; a disagreement is a StoreError naming it, and the server does not
 * start on a database that is not the one its folder says.
 */
export async function establishStoreIdentity(store: IdentityStore, dir: string): Promise<string> {
  const [marker, recorded] = await Promise.all([readMarker(dir), readRecorded(store)]);
  if (marker === undefined && recorded === undefined) {
    const id = randomUUID();
    if ((await store.putDoc(ID_KIND, ID_KEY, { id }, { expiresAt: NEVER })) === undefined)
      throw identityError('another process created the store identity at the same time', dir);
    await writeFile(join(dir, STORE_ID_FILE), `${id}\n`, { flag: 'wx' });
    return id;
  }
  const problem = compare(marker, recorded, recorded);
  if (problem !== undefined) throw identityError(problem, dir);
  return recorded as string;
}

/**
 * On a health check: the cause when the folder's marker or the database no longer carries the id the store started
 * with, else undefined. Store and file errors are thrown (the caller reports them as a failing store).
 */
export async function storeIdentityProblem(store: IdentityStore, dir: string, id: string): Promise<string | undefined> {
  const [marker, recorded] = await Promise.all([readMarker(dir), readRecorded(store)]);
  return compare(marker, recorded, id);
}

function compare(marker: string | undefined, recorded: string | undefined, expected: string | undefined) {
  if (marker === undefined)
    return `the store folder's marker ${STORE_ID_FILE} is missing (the folder was deleted or replaced)`;
  if (recorded === undefined) return 'the database has no store identity (it was replaced or lost)';
  if (marker !== recorded || recorded !== expected)
    return "the store folder's marker and the database name different stores (one was swapped)";
  return undefined;
}

function identityError(problem: string, dir: string): StoreError {
  return new StoreError(`store identity check failed: ${problem}`, {
    retryable: false,
    context: { operation: 'identity', dir },
  });
}
