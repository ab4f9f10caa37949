import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../errors.ts';
import { toStoreError } from './aws-error.ts';
import { STORE_INDEXES, tableDefinition, TTL_ATTRIBUTE } from './table-schema.ts';

/**
 * Creates the table (table-schema.ts) if missing and waits until it and its indexes are ACTIVE; refuses a table
 * that lacks an index. Safe for replicas starting together: a lost CreateTable race waits like the winner.
 */
export async function ensureTable(client: DynamoDBClient, table: string): Promise<void> {
  let description = await describeTable(client, table);
  if (description === undefined) {
    try {
      await client.send(new CreateTableCommand(tableDefinition(table)));
    } catch (error) {
      // Another replica created it first: fine, wait for it like they do.
      if ((error as { name?: unknown }).name !== 'ResourceInUseException') {
        throw toStoreError(error, 'CreateTable', table);
      }
    }
  }
  for (let attempt = 0; ; attempt++) {
    description = await describeTable(client, table);
    const indexesReady = (description?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (description?.TableStatus === 'ACTIVE' && indexesReady) break;
    if (attempt >= 600) {
      throw new StoreError(`table ${table} did not become ACTIVE`, {
        retryable: true,
        context: { operation: 'ensureTable', table, status: description?.TableStatus },
      });
    }
    await sleep(Math.min(1_000, 20 * 2 ** attempt));
  }
  const present = new Set((description.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  const missing = Object.keys(STORE_INDEXES).filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new StoreError(`table ${table} exists without the indexes ${missing.join(', ')}`, {
      retryable: false,
      context: { operation: 'ensureTable', table },
    });
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch {
    // Best effort: dynalite has no UpdateTimeToLive, DynamoDB refuses to enable it twice, and an operator may
    // not grant the permission. Correctness never depends on TTL: reads filter on expiresAt.
  }
}

async function describeTable(client: DynamoDBClient, table: string): Promise<TableDescription | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: table }));
    return out.Table;
  } catch (error) {
    if ((error as { name?: unknown }).name === 'ResourceNotFoundException') return undefined;
    throw toStoreError(error, 'DescribeTable', table);
  }
}
