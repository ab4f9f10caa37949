import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RunStatus } from '../core/types.ts';
import { RUN_STATUSES } from '../core/types.ts';
import { StoreError } from '../errors.ts';
import { Expr } from './expr.ts';
import { createdSk, groupPk, repoKey, RUN_SK, runPk, statusPk } from './item-keys.ts';
import { FIXED_RUN_FIELDS, orderItem, runItem, splitChanges, toRun, ttlOf, type Item } from './item-mapping.ts';
import type { Store } from './store.ts';
import type { StoreTable } from './store-table.ts';
import { TTL_ATTRIBUTE } from './table-schema.ts';

export type RunOperations = Pick<Store, 'createRun' | 'getRun' | 'updateRun' | 'listRuns'>;

const DEFAULT_LIST_RUNS_LIMIT = 50;

/** The run aggregate: the run item and, at creation, its orders. */
export function runOperations(t: StoreTable): RunOperations {
  return {
    async createRun(run, orders) {
      const e = new Expr();
      const created = await t.sendConditional('PutItem', () =>
        t.doc.send(
          new PutCommand({
            TableName: t.name,
            Item: runItem(run),
            ConditionExpression: `attribute_not_exists(${e.name('pk')})`,
            ...e.params(),
          }),
        ),
      );
      if (created === undefined) return false;
      // The run goes first so that a repeated createRun is refused before it could overwrite orders that have
      // moved on; orders are unconditional puts in batches (BatchWriteItem takes no conditions).
      await t.batchWrite(orders.map((o) => orderItem(o, run.expiresAt)));
      return true;
    },

    async getRun(runId) {
      const item = await t.getItem({ pk: runPk(runId), sk: RUN_SK });
      return t.live(item) ? toRun(item) : undefined;
    },

    async updateRun(runId, expect, changes) {
      if (expect.statuses.length === 0) return undefined;
      const { set, remove } = splitChanges(changes, FIXED_RUN_FIELDS);
      if (changes.status !== undefined) set['statusPk'] = statusPk(changes.status);
      if (changes.expiresAt !== undefined) set[TTL_ATTRIBUTE] = ttlOf(changes.expiresAt);
      const e = new Expr();
      const updateExpression =
        Object.keys(set).length + remove.length > 0
          ? e.update(set, remove)
          : `SET ${e.name('status')} = ${e.name('status')}`;
      const out = await t.sendConditional('UpdateItem', () =>
        t.doc.send(
          new UpdateCommand({
            TableName: t.name,
            Key: { pk: runPk(runId), sk: RUN_SK },
            UpdateExpression: updateExpression,
            ConditionExpression: `${e.in('status', expect.statuses)} AND ${e.name('expiresAt')} > ${e.value(t.now())}`,
            ReturnValues: 'ALL_NEW',
            ...e.params(),
          }),
        ),
      );
      return out?.Attributes === undefined ? undefined : toRun(out.Attributes);
    },

    async listRuns(q) {
      const limit = q.limit ?? DEFAULT_LIST_RUNS_LIMIT;
      if (limit <= 0) return [];
      const keep = (item: Item): boolean => t.live(item) && (q.status === undefined || item['status'] === q.status);
      // Index sort keys are `<createdAt>#<runId>`, newest first: the page after a run is every key below its own.
      const before = q.before === undefined ? undefined : createdSk(q.before.createdAt, q.before.runId);
      let items: Item[];
      if (q.concurrencyGroup !== undefined) {
        if (q.repo === undefined) {
          throw new StoreError('listRuns: concurrencyGroup needs repo', {
            retryable: false,
            context: { operation: 'listRuns', table: t.name },
          });
        }
        items = await t.queryIndex('byGroup', groupPk(q.repo, q.concurrencyGroup), true, keep, limit, before);
      } else if (q.repo !== undefined) {
        items = await t.queryIndex('byRepo', repoKey(q.repo), true, keep, limit, before);
      } else {
        // Without a repository, the newest of each status partition merged: one query per status.
        const statuses: readonly RunStatus[] = q.status !== undefined ? [q.status] : RUN_STATUSES;
        const perStatus = await Promise.all(
          statuses.map((s) => t.queryIndex('byStatus', statusPk(s), true, keep, limit, before)),
        );
        items = perStatus.flat().sort((a, b) => String(b['createdSk']).localeCompare(String(a['createdSk'])));
      }
      return items.slice(0, limit).map(toRun);
    },
  };
}
