/**
 * Secrets read through from AWS, as iac-ci reads its own: a secret a job names that spotcheck's store does not give
 * it is looked up by a naming convention (src/core/secrets.ts `externalSecretPaths`) in Secrets Manager
 * (`GetSecretValue`, the secret's string) and then SSM Parameter Store (`GetParameter` with `WithDecryption`), the
 * most specific path first. Asked only at hand-over (the local launch, a cloud agent's bootstrap exchange), only for
 * names the job references, and only for runs of members (approved outsiders never get them: they carry no
 * outsiders flag). Values stay in memory and go where stored secrets go; nothing here logs one.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { externalSecretPaths, type ExternalSecretLevel } from '../core/secrets.ts';
import type { RepoRef } from '../core/types.ts';
import { SecretError } from '../errors.ts';

export interface ExternalSecretValue {
  readonly value: string;
  readonly level: ExternalSecretLevel;
}

/** The port: values of `names` for an order of `repo` (in `environment`); names found nowhere are left out. */
export interface ExternalSecrets {
  read(
    repo: Pick<RepoRef, 'owner' | 'name'>,
    environment: string | undefined,
    names: readonly string[],
  ): Promise<Readonly<Record<string, ExternalSecretValue>>>;
}

export interface AwsExternalSecretsOptions {
  readonly secretsManager?: { readonly client: SecretsManagerClient; readonly prefix: string };
  readonly ssm?: { readonly client: SSMClient; readonly prefix: string };
}

/** Names looked up for one order at most (GitHub allows 100 secrets per repository); more are not read. */
export const MAX_EXTERNAL_NAMES = 100;
/** Lookups in flight for one order. */
const PARALLEL = 8;

/** One outside store: its prefix, and the value at a path (undefined when it has nothing there). */
interface Source {
  readonly prefix: string;
  get(path: string): Promise<string | undefined>;
}

const LEVELS: readonly ExternalSecretLevel[] = ['environment', 'repo', 'org'];

export function awsExternalSecrets(opts: AwsExternalSecretsOptions): ExternalSecrets {
  const sources: Source[] = [];
  const { secretsManager, ssm } = opts;
  if (secretsManager !== undefined)
    sources.push({
      prefix: secretsManager.prefix,
      async get(path) {
        try {
          const out = await secretsManager.client.send(new GetSecretValueCommand({ SecretId: path }));
          // A binary secret has no string to hand a step.
          return out.SecretString;
        } catch (error) {
          if (nameOf(error) === 'ResourceNotFoundException') return undefined;
          throw failed('Secrets Manager', error);
        }
      },
    });
  if (ssm !== undefined)
    sources.push({
      prefix: ssm.prefix,
      async get(path) {
        try {
          const out = await ssm.client.send(new GetParameterCommand({ Name: path, WithDecryption: true }));
          return out.Parameter?.Value;
        } catch (error) {
          if (nameOf(error) === 'ParameterNotFound') return undefined;
          throw failed('SSM Parameter Store', error);
        }
      },
    });

  const readOne = async (
    repo: Pick<RepoRef, 'owner' | 'name'>,
    environment: string | undefined,
    name: string,
  ): Promise<ExternalSecretValue | undefined> => {
    const candidates = sources.map((source) => ({
      source,
      paths: externalSecretPaths(source.prefix, repo, environment, name),
    }));
    // The most specific level first, in Secrets Manager then SSM: precedence as for stored secrets.
    for (const level of LEVELS) {
      for (const { source, paths } of candidates) {
        const at = paths.find((p) => p.level === level);
        if (at === undefined) continue;
        const value = await source.get(at.path);
        // An empty value cannot be masked in a log, as the store refuses one.
        if (value !== undefined && value !== '') return { value, level };
      }
    }
    return undefined;
  };

  return {
    async read(repo, environment, names) {
      const values: Record<string, ExternalSecretValue> = {};
      if (sources.length === 0) return values;
      const wanted = names.slice(0, MAX_EXTERNAL_NAMES);
      for (let i = 0; i < wanted.length; i += PARALLEL) {
        const batch = wanted.slice(i, i + PARALLEL);
        const found = await Promise.all(batch.map((name) => readOne(repo, environment, name)));
        for (const [j, value] of found.entries()) if (value !== undefined) values[batch[j]!] = value;
      }
      return values;
    },
  };
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** A store that fails (throttled, denied, a key it cannot use) fails the hand-over: a job never runs short of one. */
function failed(store: string, error: unknown): SecretError {
  return new SecretError(`${store} did not answer for a secret (${nameOf(error) ?? 'error'})`, { cause: error });
}
