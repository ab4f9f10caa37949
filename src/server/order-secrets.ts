import { chooseSecrets, scopesFor } from '../core/secrets.ts';
import type { OrderRecord, RunRecord } from '../core/types.ts';
import type { SecretStore } from '../store/secret-store.ts';

/**
 * The secrets one order gets, opened: the org, repository and (when its job names one) environment secrets of the
 * run's repository, chosen by the run's trust (src/core/secrets.ts). Called when the order's job is handed over —
 * the local runner's launch, a cloud agent's bootstrap exchange — so values live in the server's memory only then.
 */
export function orderSecretsReader(
  secrets: SecretStore,
): (run: RunRecord, order: OrderRecord) => Promise<Readonly<Record<string, string>>> {
  return async (run, order) => {
    const environment = order.environment?.name;
    const listed = await Promise.all(scopesFor(run.repo, environment).map((scope) => secrets.list(scope)));
    const chosen = chooseSecrets(listed.flat(), {
      ...(run.trust === undefined ? {} : { trust: run.trust }),
      ...(environment === undefined ? {} : { environment }),
    });
    return chosen.length === 0 ? {} : secrets.open(chosen);
  };
}
