import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface RequestCounter {
  /** Commands sent since creation or the last reset (one per `send`, whatever the SDK's own retries did). */
  count(): number;
  /** The same, per operation name (`UpdateItem`, `BatchWriteItem`, ...). */
  byCommand(): Record<string, number>;
  reset(): void;
}

let nextId = 0;

/**
 * Counts the commands a DynamoDB client sends, through an `initialize`-step middleware on the client's stack (a
 * document client built with `DynamoDBDocumentClient.from(client)` shares that stack, so its commands count too).
 * Tests and the benchmark use it to assert store requests per order.
 */
export function countRequests(client: DynamoDBClient): RequestCounter {
  let counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      counts[name] = (counts[name] ?? 0) + 1;
      return next(args);
    },
    // A unique name per counter: the stack refuses duplicate names, and two counters on one client may coexist.
    { step: 'initialize', name: `spotcheckRequestCounter${String(nextId++)}` },
  );
  return {
    count: () => Object.values(counts).reduce((a, b) => a + b, 0),
    byCommand: () => ({ ...counts }),
    reset: () => {
      counts = {};
    },
  };
}
