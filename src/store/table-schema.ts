/**
 * The DynamoDB table's shape: its key, its global secondary indexes and its TTL attribute. The ONE place the index
 * list lives: `ensureTable` creates the table from it (local engines, a first start) and infra/spotcheck-stack.ts
 * declares the deployed table from it. No AWS SDK import, so infra can import it without the SDK.
 *
 * Global secondary indexes (all project ALL, so a query needs no second read):
 * - `byRepo` (repoPk, createdSk): runs of one repository, newest first. repoPk is built from forge, host, owner and
 *   name, so two forges or two hosts with the same owner/name never share a partition.
 * - `byStatus` (statusPk, createdSk): runs by status.
 * - `byGroup` (groupPk, createdSk): runs of one repository and concurrency group (sparse: only runs with a group).
 * - `active` (activePk, activeSk): sparse, orders in dispatching/running/interrupted. Set or removed in the same
 *   UpdateItem that changes the state, so the index never disagrees with the state it was written with.
 * - `waiting` (waitPk, waitSk): sparse, queued orders with `waitingSince`, ordered by waitingSince.
 * - `docs` (docsPk, docsSk): sparse and sharded per kind, documents whose value has a numeric `due`, ordered by it
 *   (pending inbox intents); a write without `due` removes the document from it in the same UpdateItem.
 */
export const STORE_INDEXES = {
  byRepo: { pk: 'repoPk', sk: 'createdSk' },
  byStatus: { pk: 'statusPk', sk: 'createdSk' },
  byGroup: { pk: 'groupPk', sk: 'createdSk' },
  active: { pk: 'activePk', sk: 'activeSk' },
  waiting: { pk: 'waitPk', sk: 'waitSk' },
  docs: { pk: 'docsPk', sk: 'docsSk' },
} as const satisfies Record<string, { pk: string; sk: string }>;

export type StoreIndexName = keyof typeof STORE_INDEXES;

/** The table's own key attributes. */
export const TABLE_KEY = { pk: 'pk', sk: 'sk' } as const;

/** Epoch seconds, as DynamoDB TTL requires. Cleanup only: correctness never relies on TTL deletion. */
export const TTL_ATTRIBUTE = 'ttl';

/** Every key attribute of the table and its indexes (all strings). */
export const KEY_ATTRIBUTES: readonly string[] = [
  ...new Set<string>([TABLE_KEY.pk, TABLE_KEY.sk, ...Object.values(STORE_INDEXES).flatMap((i) => [i.pk, i.sk])]),
];

/** The CreateTable input for `table`: on-demand billing, the key and indexes above. */
export function tableDefinition(table: string) {
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: KEY_ATTRIBUTES.map((name) => ({ AttributeName: name, AttributeType: 'S' as const })),
    KeySchema: [
      { AttributeName: TABLE_KEY.pk, KeyType: 'HASH' as const },
      { AttributeName: TABLE_KEY.sk, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: Object.entries(STORE_INDEXES).map(([name, i]) => ({
      IndexName: name,
      KeySchema: [
        { AttributeName: i.pk, KeyType: 'HASH' as const },
        { AttributeName: i.sk, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}
