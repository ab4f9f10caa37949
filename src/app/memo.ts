/**
 * The value cached under `key`, made once by `make` on first use (one AWS client per region, shared by every
 * runner that needs it). `undefined` is not a cacheable value: `make` runs again for it.
 */
export function memo<K, V>(cache: Map<K, V>, key: K, make: () => V): V {
  let value = cache.get(key);
  if (value === undefined) cache.set(key, (value = make()));
  return value;
}
