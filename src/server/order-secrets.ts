import { chooseSecrets, passSecretsThroughCalls, scopesFor } from '../core/secrets.ts';
import { interpolate } from '../core/workflow/expressions.ts';
import type { OrderRecord, RunRecord } from '../core/types.ts';
import type { SecretStore } from '../store/secret-store.ts';

/**
 * The secrets one order gets, opened: the org, repository and (when its job names one) environment secrets of the
 * run's repository, chosen by the run's trust (src/core/secrets.ts); a called workflow's job gets what its calls pass. Called when the order's job is handed over —
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
    if (order.secretsPassed === undefined) return chosen.length === 0 ? {} : secrets.open(chosen);
    // A called workflow's job: the org and repository secrets go through each call's `secrets:`; its environment's
    // own secrets are its own (GitHub: environment secrets cannot be passed, a called job naming one gets them).
    const own = chosen.filter((s) => s.scope.level === 'environment');
    const callers = chosen.filter((s) => s.scope.level !== 'environment');
    const passed = passSecretsThroughCalls(
      callers.length === 0 ? {} : await secrets.open(callers),
      order.secretsPassed,
      (template, current) => {
        const value = interpolate(template, { github: { ...run.github }, secrets: current });
        return value.ok ? value.value : undefined;
      },
    );
    return { ...passed, ...(own.length === 0 ? {} : await secrets.open(own)) };
  };
}
