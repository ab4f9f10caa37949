import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Expr } from './expr.ts';
import { docIndexKeys, docKey, docsPk, INDEX_SHARDS, timeKey } from './item-keys.ts';
import { dueOf, toDoc, ttlOf, type Item } from './item-mapping.ts';
import type { Store } from './store.ts';
import type { StoreTable } from './store-table.ts';
import { TTL_ATTRIBUTE } from './table-schema.ts';

export type DocOperations = Pick<Store, 'putDoc' | 'getDoc' | 'deleteDoc' | 'listDocs' | 'scanDocs'>;

/** Versioned documents by kind and key (inbox intents, PR heads, capacity records, job groups), listable by `due`. */
export function docOperations(t: StoreTable): DocOperations {
  return {
    async putDoc(kind, key, value, options) {
      const e = new Expr();
      const set: Item = {
        kind: 'doc',
        docKind: kind,
        docKey: key,
        value,
        expiresAt: options.expiresAt,
        [TTL_ATTRIBUTE]: ttlOf(options.expiresAt),
      };
      const remove: string[] = [];
      const due = dueOf(value);
      // The listing index is kept in the same write as the value that decides it, so it never lists a stale `due`.
      if (due !== undefined) Object.assign(set, docIndexKeys(kind, key, due));
      else remove.push('docsPk', 'docsSk');
      const version = e.name('version');
      const expiresAt = e.name('expiresAt');
      // An expired document counts as absent (reads filter it), so "must not exist" also takes an expired one. The
      // version keeps counting up across such a re-creation, so a writer holding the old version can never match.
      const condition =
        options.ifVersion === undefined
          ? `attribute_not_exists(${e.name('pk')}) OR ${expiresAt} <= ${e.value(t.now())}`
          : `${version} = ${e.value(options.ifVersion)} AND ${expiresAt} > ${e.value(t.now())}`;
      const out = await t.sendConditional('UpdateItem', () =>
        t.doc.send(
          new UpdateCommand({
            TableName: t.name,
            Key: docKey(kind, key),
            UpdateExpression: `${e.update(set, remove)} ADD ${version} ${e.value(1)}`,
            ConditionExpression: condition,
            ReturnValues: 'UPDATED_NEW',
            ...e.params(),
          }),
        ),
      );
      const written: unknown = out?.Attributes?.['version'];
      return typeof written === 'number' ? written : undefined;
    },

    async getDoc(kind, key) {
      const item = await t.getItem(docKey(kind, key));
      return t.live(item) ? toDoc(item) : undefined;
    },

    async deleteDoc(kind, key) {
      // Idempotent by nature: deleting a missing item succeeds, and nothing else depends on the old value.
      await t.send('DeleteItem', () => t.doc.send(new DeleteCommand({ TableName: t.name, Key: docKey(kind, key) })));
    },

    async listDocs(kind, q) {
      if (q.limit <= 0 || (q.dueBefore !== undefined && q.dueBefore < 0)) return [];
      const keep = (item: Item): boolean => t.live(item) && dueOf(item['value']) !== undefined;
      const shards = await Promise.all(
        Array.from({ length: INDEX_SHARDS }, (_, i) => {
          const e = new Expr();
          const pk = `${e.name('docsPk')} = ${e.value(docsPk(kind, i))}`;
          // docsSk starts with the zero-padded due, so `< timeKey(dueBefore + 1)` is exactly `due <= dueBefore`.
          const sk = q.dueBefore === undefined ? '' : ` AND ${e.name('docsSk')} < ${e.value(timeKey(q.dueBefore + 1))}`;
          return t.query(
            { IndexName: 'docs', KeyConditionExpression: pk + sk, Limit: Math.min(1000, q.limit), ...e.params() },
            keep,
            q.limit,
          );
        }),
      );
      return shards
        .flat()
        .sort((a, b) => String(a['docsSk']).localeCompare(String(b['docsSk'])))
        .slice(0, q.limit)
        .map((item) => ({ key: item['docKey'] as string, ...toDoc(item) }));
    },

    async scanDocs(kind, q) {
      if (q.limit <= 0) return [];
      const e = new Expr();
      const filter = `${e.name('kind')} = ${e.value('doc')} AND ${e.name('docKind')} = ${e.value(kind)}`;
      const keep = (item: Item): boolean => t.live(item) && dueOf(item['value']) !== undefined;
      const items = await t.scan({ FilterExpression: filter, ...e.params() }, keep, q.limit);
      return items.map((item) => ({ key: item['docKey'] as string, ...toDoc(item) }));
    },
  };
}
