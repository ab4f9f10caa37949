import { chooseSecrets, passSecretsThroughCalls, scopesFor, secretNamesOfOrder } from '../core/secrets.ts';
import { interpolate } from '../core/workflow/expressions.ts';
import type { OrderRecord, RunRecord } from '../core/types.ts';
import type { SecretStore } from '../store/secret-store.ts';
import type { ExternalSecretValue, ExternalSecrets } from './external-secrets.ts';

/**
 * The secrets one order gets, opened: the org, repository and (when its job names one) environment secrets of the
 * run's repository, chosen by the run's trust (src/core/secrets.ts); a called workflow's job gets what its calls pass.
 * Called when the order's job is handed over — the local runner's launch, a cloud agent's bootstrap exchange — so
 * values live in the server's memory only then. With `external`, a name the job references that the store does not
 * give it is read through from AWS (external-secrets.ts) for a member's run; the store's own secret always wins.
 */
export function orderSecretsReader(
  secrets: SecretStore,
  external?: ExternalSecrets,
): (run: RunRecord, order: OrderRecord) => Promise<Readonly<Record<string, string>>> {
  return async (run, order) => {
    const environment = order.environment?.name;
    const listed = await Promise.all(scopesFor(run.repo, environment).map((scope) => secrets.list(scope)));
    const chosen = chooseSecrets(listed.flat(), {
      ...(run.trust === undefined ? {} : { trust: run.trust }),
      ...(environment === undefined ? {} : { environment }),
    });
    const stored = new Set(chosen.map((s) => s.name));
    // Approved outsiders get only secrets marked for them; nothing read through is marked.
    const missing =
      external === undefined || run.trust !== 'member' ? [] : secretNamesOfOrder(order).filter((n) => !stored.has(n));
    const fetched = missing.length === 0 ? {} : await external!.read(run.repo, plainName(environment), missing);
    const fetchedAt = (levels: readonly ExternalSecretValue['level'][]): Record<string, string> =>
      Object.fromEntries(
        Object.entries(fetched)
          .filter(([, v]) => levels.includes(v.level))
          .map(([name, v]) => [name, v.value]),
      );
    if (order.secretsPassed === undefined) {
      return {
        ...fetchedAt(['org', 'repo', 'environment']),
        ...(chosen.length === 0 ? {} : await secrets.open(chosen)),
      };
    }
    // A called workflow's job: the org and repository secrets go through each call's `secrets:`; its environment's
    // own secrets are its own (GitHub: environment secrets cannot be passed, a called job naming one gets them).
    const own = chosen.filter((s) => s.scope.level === 'environment');
    const callers = chosen.filter((s) => s.scope.level !== 'environment');
    const passed = passSecretsThroughCalls(
      { ...fetchedAt(['org', 'repo']), ...(callers.length === 0 ? {} : await secrets.open(callers)) },
      order.secretsPassed,
      (template, current) => {
        const value = interpolate(template, { github: { ...run.github }, secrets: current });
        return value.ok ? value.value : undefined;
      },
    );
    return { ...passed, ...fetchedAt(['environment']), ...(own.length === 0 ? {} : await secrets.open(own)) };
  };
}

/** An environment name the server can use: one still holding `${{ }}` names none. */
function plainName(environment: string | undefined): string | undefined {
  return environment === undefined || environment === '' || environment.includes('${{') ? undefined : environment;
}
