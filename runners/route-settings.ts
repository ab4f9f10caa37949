/**
 * The settings of `spot` and `codebuild` routes: parsed and validated once (the operator config loader calls
 * `parseRouteSettings`), every problem reported at once, each message naming the key and what it must be — never
 * the value, so a secret pasted into the wrong key does not end up in a log.
 */
import type { Route } from './runner.ts';

export interface LaunchTemplateRef {
  readonly id?: string;
  readonly name?: string;
  /** A version number, `$Latest` or `$Default` (RunInstances' `LaunchTemplate.Version`). */
  readonly version: string;
}

export interface SpotSettings {
  /** In preference order: the first is tried first. */
  readonly instanceTypes: readonly string[];
  /** In preference order, after the instance type (type-major: every subnet of a type before the next type). */
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  readonly ami?: string;
  readonly launchTemplate?: LaunchTemplateRef;
  /** When every Spot candidate lacks capacity, launch the same candidates on demand. */
  readonly onDemandFallback: boolean;
  /** Hard cap: the instance powers itself off after this long, and the janitor terminates it past its expiry tag. */
  readonly maxLifetimeMinutes: number;
  readonly rootVolumeGiB?: number;
  /** The AMI's root device (Amazon Linux 2023: `/dev/xvda`), where the encrypted root volume is mapped. */
  readonly rootDeviceName: string;
  /** Name or ARN of the instance profile. */
  readonly instanceProfile?: string;
  readonly region?: string;
  /**
   * Capacity mode (src/capacity/): this route also launches ephemeral forge runners (act_runner, GitHub's JIT
   * runner) for Gitea Actions / GitHub Actions jobs whose `runs-on` names the label. Absent means false.
   */
  readonly capacity?: boolean;
  /** Capacity mode: a runner that has not picked up a job this long after launch is terminated (default 20). */
  readonly idleMinutes?: number;
}

export interface CodeBuildSettings {
  readonly project: string;
  readonly computeType?: string;
  readonly image?: string;
  /** Upper bound for a build's timeout; the order's own timeout (plus start-up slack) is used when lower. */
  readonly timeoutMinutes?: number;
  readonly region?: string;
}

export type RouteSettings =
  | { readonly runner: 'spot'; readonly spot: SpotSettings }
  | { readonly runner: 'codebuild'; readonly codebuild: CodeBuildSettings }
  | { readonly runner: 'local' | 'skip' };

export type ParsedRouteSettings =
  { readonly ok: true; readonly settings: RouteSettings } | { readonly ok: false; readonly errors: readonly string[] };

export const DEFAULT_MAX_LIFETIME_MINUTES = 360;
/** A week: a CI order that needs longer belongs elsewhere; the cap exists so nothing runs (and bills) forever. */
export const MAX_LIFETIME_MINUTES_LIMIT = 7 * 24 * 60;
/** CodeBuild's `timeoutInMinutesOverride` range: 5 to 2160 (36 hours) (StartBuild API reference). */
export const CODEBUILD_MIN_TIMEOUT_MINUTES = 5;
export const CODEBUILD_MAX_TIMEOUT_MINUTES = 2160;
/** EBS gp3 volumes: 1 GiB to 16 TiB (EBS volume types); 8 GiB is the smallest that holds AL2023 and a checkout. */
const MIN_ROOT_GIB = 8;
const MAX_ROOT_GIB = 16_384;

/** The compute types StartBuild's `computeTypeOverride` accepts (CodeBuild `ComputeType`). */
export const CODEBUILD_COMPUTE_TYPES = [
  'BUILD_GENERAL1_SMALL',
  'BUILD_GENERAL1_MEDIUM',
  'BUILD_GENERAL1_LARGE',
  'BUILD_GENERAL1_XLARGE',
  'BUILD_GENERAL1_2XLARGE',
  'BUILD_LAMBDA_1GB',
  'BUILD_LAMBDA_2GB',
  'BUILD_LAMBDA_4GB',
  'BUILD_LAMBDA_8GB',
  'BUILD_LAMBDA_10GB',
] as const;

// Resource id shapes from the EC2 API reference (`i-`, `subnet-`, `sg-`, `ami-`, `lt-` followed by hex).
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
const LAUNCH_TEMPLATE_ID = /^lt-[0-9a-f]{8,17}$/;
/** Launch template names: 3–128 characters of `[a-zA-Z0-9().\-/_]` (CreateLaunchTemplate). */
const LAUNCH_TEMPLATE_NAME = /^[A-Za-z0-9().\-/_]{3,128}$/;
const LAUNCH_TEMPLATE_VERSION = /^(?:\$Latest|\$Default|[1-9][0-9]*)$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-[0-9]$/;
const DEVICE_NAME = /^\/dev\/[a-z0-9]+$/;
/** An instance profile name (IAM: `[\w+=,.@-]{1,128}`) or its ARN. */
const INSTANCE_PROFILE = /^(?:[\w+=,.@-]{1,128}|arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile\/[\w+=,.@/-]{1,512})$/;
/** CodeBuild project names: 2–255 characters, starting with a letter or digit (CreateProject). */
const CODEBUILD_PROJECT = /^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}$/;

const SPOT_KEYS = [
  'instanceTypes',
  'subnets',
  'securityGroups',
  'ami',
  'launchTemplate',
  'onDemandFallback',
  'maxLifetimeMinutes',
  'rootVolumeGiB',
  'rootDeviceName',
  'instanceProfile',
  'region',
  'capacity',
  'idleMinutes',
  'docker',
] as const;
const CODEBUILD_KEYS = ['project', 'computeType', 'image', 'timeoutMinutes', 'region', 'docker'] as const;

/**
 * Keys refused with a reason rather than "unknown": they would weaken the security model (docs/architecture.md:
 * ephemeral, untrusted runners that nobody logs into; the only secret an instance gets is a one-time bootstrap token).
 */
const FORBIDDEN_SPOT_KEYS: Readonly<Record<string, string>> = {
  keyName: 'runners are ephemeral and nobody logs into them: an SSH key pair is refused',
  userData: 'user data is generated by spotcheck (it carries only the one-time bootstrap token)',
  tags: 'spotcheck sets its own tags (the janitor relies on them)',
};

/** Validates a route's settings for its runner kind; every problem at once. */
export function parseRouteSettings(route: Pick<Route, 'label' | 'runner' | 'settings'>): ParsedRouteSettings {
  const where = `routes.${route.label}`;
  const errors: string[] = [];
  const raw = route.settings;
  if (raw.docker !== undefined && typeof raw.docker !== 'boolean')
    errors.push(`${where}.docker: must be true or false`);
  switch (route.runner) {
    case 'spot': {
      const spot = parseSpot(raw, where, errors);
      return errors.length > 0 || spot === undefined
        ? { ok: false, errors }
        : { ok: true, settings: { runner: 'spot', spot } };
    }
    case 'codebuild': {
      const codebuild = parseCodeBuild(raw, where, errors);
      return errors.length > 0 || codebuild === undefined
        ? { ok: false, errors }
        : { ok: true, settings: { runner: 'codebuild', codebuild } };
    }
    case 'local':
    case 'skip':
      return errors.length > 0 ? { ok: false, errors } : { ok: true, settings: { runner: route.runner } };
  }
}

/**
 * Whether a route's runner declares a Docker engine (`docker: true` in its settings, any runner kind): only then are
 * Docker actions (`docker://image`, `runs.using: docker`) accepted by `spotcheck validate`. The agent on such a
 * route needs Docker on its machine (or image).
 */
export function declaresDocker(route: Pick<Route, 'settings'>): boolean {
  return route.settings.docker === true;
}

/** For runners: the settings of a route the config loader already validated (throws on a route it did not). */
export function spotSettingsOf(route: Route): SpotSettings {
  const parsed = parseRouteSettings(route);
  if (!parsed.ok || parsed.settings.runner !== 'spot')
    throw new TypeError(`route "${route.label}" has invalid spot settings: ${errorsOf(parsed).join('; ')}`);
  return parsed.settings.spot;
}

export function codeBuildSettingsOf(route: Route): CodeBuildSettings {
  const parsed = parseRouteSettings(route);
  if (!parsed.ok || parsed.settings.runner !== 'codebuild')
    throw new TypeError(`route "${route.label}" has invalid codebuild settings: ${errorsOf(parsed).join('; ')}`);
  return parsed.settings.codebuild;
}

function errorsOf(parsed: ParsedRouteSettings): readonly string[] {
  return parsed.ok ? ['not a route of that kind'] : parsed.errors;
}

function parseSpot(raw: Readonly<Record<string, unknown>>, where: string, errors: string[]): SpotSettings | undefined {
  unknownKeys(raw, SPOT_KEYS, FORBIDDEN_SPOT_KEYS, where, 'spot', errors);
  const instanceTypes = idList(
    raw.instanceTypes,
    INSTANCE_TYPE,
    `${where}.instanceTypes`,
    'instance types such as "m7i.large"',
    true,
    errors,
  );
  const subnets = idList(raw.subnets, SUBNET_ID, `${where}.subnets`, 'subnet ids ("subnet-…")', true, errors);
  const securityGroups =
    raw.securityGroups === undefined
      ? []
      : idList(
          raw.securityGroups,
          SECURITY_GROUP_ID,
          `${where}.securityGroups`,
          'security group ids ("sg-…")',
          true,
          errors,
        );
  const ami = optionalMatch(raw.ami, AMI_ID, `${where}.ami`, 'an AMI id ("ami-…")', errors);
  const launchTemplate = parseLaunchTemplate(raw.launchTemplate, `${where}.launchTemplate`, errors);
  if (raw.ami === undefined && raw.launchTemplate === undefined)
    errors.push(`${where}: needs "ami" or "launchTemplate" (which image to boot)`);
  const onDemandFallback = raw.onDemandFallback ?? false;
  if (typeof onDemandFallback !== 'boolean') errors.push(`${where}.onDemandFallback: must be true or false`);
  const maxLifetimeMinutes = wholeNumber(
    raw.maxLifetimeMinutes,
    1,
    MAX_LIFETIME_MINUTES_LIMIT,
    `${where}.maxLifetimeMinutes`,
    errors,
  );
  const rootVolumeGiB = wholeNumber(raw.rootVolumeGiB, MIN_ROOT_GIB, MAX_ROOT_GIB, `${where}.rootVolumeGiB`, errors);
  const rootDeviceName =
    optionalMatch(raw.rootDeviceName, DEVICE_NAME, `${where}.rootDeviceName`, 'a device name ("/dev/xvda")', errors) ??
    '/dev/xvda';
  const instanceProfile = optionalMatch(
    raw.instanceProfile,
    INSTANCE_PROFILE,
    `${where}.instanceProfile`,
    'an instance profile name or ARN',
    errors,
  );
  const region = optionalMatch(raw.region, REGION, `${where}.region`, 'an AWS region ("eu-west-1")', errors);
  const capacity = raw.capacity ?? false;
  if (typeof capacity !== 'boolean') errors.push(`${where}.capacity: must be true or false`);
  const idleMinutes = wholeNumber(raw.idleMinutes, 1, MAX_LIFETIME_MINUTES_LIMIT, `${where}.idleMinutes`, errors);
  if (errors.length > 0) return undefined;
  return {
    instanceTypes,
    subnets,
    securityGroups,
    onDemandFallback: onDemandFallback === true,
    maxLifetimeMinutes: maxLifetimeMinutes ?? DEFAULT_MAX_LIFETIME_MINUTES,
    rootDeviceName,
    ...(ami === undefined ? {} : { ami }),
    ...(launchTemplate === undefined ? {} : { launchTemplate }),
    ...(rootVolumeGiB === undefined ? {} : { rootVolumeGiB }),
    ...(instanceProfile === undefined ? {} : { instanceProfile }),
    ...(region === undefined ? {} : { region }),
    ...(capacity === true ? { capacity: true } : {}),
    ...(idleMinutes === undefined ? {} : { idleMinutes }),
  };
}

function parseCodeBuild(
  raw: Readonly<Record<string, unknown>>,
  where: string,
  errors: string[],
): CodeBuildSettings | undefined {
  unknownKeys(raw, CODEBUILD_KEYS, {}, where, 'codebuild', errors);
  if (raw.project === undefined) errors.push(`${where}.project: required (the CodeBuild project to start builds in)`);
  const project = optionalMatch(raw.project, CODEBUILD_PROJECT, `${where}.project`, 'a CodeBuild project name', errors);
  let computeType: string | undefined;
  if (raw.computeType !== undefined) {
    if (typeof raw.computeType === 'string' && (CODEBUILD_COMPUTE_TYPES as readonly string[]).includes(raw.computeType))
      computeType = raw.computeType;
    else errors.push(`${where}.computeType: must be one of ${CODEBUILD_COMPUTE_TYPES.join(', ')}`);
  }
  let image: string | undefined;
  if (raw.image !== undefined) {
    // An image name or ECR URI: no whitespace, bounded (CodeBuild's `imageOverride` is a non-empty string).
    if (typeof raw.image === 'string' && /^\S{1,512}$/.test(raw.image)) image = raw.image;
    else errors.push(`${where}.image: must be an image name or URI without spaces`);
  }
  const timeoutMinutes = wholeNumber(
    raw.timeoutMinutes,
    CODEBUILD_MIN_TIMEOUT_MINUTES,
    CODEBUILD_MAX_TIMEOUT_MINUTES,
    `${where}.timeoutMinutes`,
    errors,
  );
  const region = optionalMatch(raw.region, REGION, `${where}.region`, 'an AWS region ("eu-west-1")', errors);
  if (errors.length > 0 || project === undefined) return undefined;
  return {
    project,
    ...(computeType === undefined ? {} : { computeType }),
    ...(image === undefined ? {} : { image }),
    ...(timeoutMinutes === undefined ? {} : { timeoutMinutes }),
    ...(region === undefined ? {} : { region }),
  };
}

function parseLaunchTemplate(raw: unknown, where: string, errors: string[]): LaunchTemplateRef | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    errors.push(`${where}: must be a map with "id" or "name", and "version"`);
    return undefined;
  }
  const map = raw as Readonly<Record<string, unknown>>;
  unknownKeys(map, ['id', 'name', 'version'], {}, where, 'launchTemplate', errors);
  const id = optionalMatch(map.id, LAUNCH_TEMPLATE_ID, `${where}.id`, 'a launch template id ("lt-…")', errors);
  const name = optionalMatch(map.name, LAUNCH_TEMPLATE_NAME, `${where}.name`, 'a launch template name', errors);
  if ((map.id === undefined) === (map.name === undefined))
    errors.push(`${where}: needs exactly one of "id" and "name"`);
  const rawVersion: unknown = map.version ?? '$Default';
  const version = typeof rawVersion === 'number' ? String(rawVersion) : rawVersion;
  if (typeof version !== 'string' || !LAUNCH_TEMPLATE_VERSION.test(version)) {
    errors.push(`${where}.version: must be a version number, "$Latest" or "$Default"`);
    return undefined;
  }
  if (id === undefined && name === undefined) return undefined;
  return { version, ...(id === undefined ? {} : { id }), ...(name === undefined ? {} : { name }) };
}

function unknownKeys(
  raw: Readonly<Record<string, unknown>>,
  allowed: readonly string[],
  forbidden: Readonly<Record<string, string>>,
  where: string,
  kind: string,
  errors: string[],
): void {
  for (const key of Object.keys(raw)) {
    if (allowed.includes(key)) continue;
    const why = forbidden[key];
    errors.push(
      why === undefined
        ? `${where}.${key}: unknown key for ${kind} (allowed: ${allowed.join(', ')})`
        : `${where}.${key}: not allowed: ${why}`,
    );
  }
}

function idList(
  raw: unknown,
  pattern: RegExp,
  where: string,
  what: string,
  required: boolean,
  errors: string[],
): string[] {
  if (raw === undefined) {
    if (required) errors.push(`${where}: required (a non-empty list of ${what})`);
    return [];
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    errors.push(`${where}: must be a non-empty list of ${what}`);
    return [];
  }
  const values: string[] = [];
  raw.forEach((value: unknown, index) => {
    if (typeof value !== 'string' || !pattern.test(value)) errors.push(`${where}[${index}]: must be one of ${what}`);
    else if (values.includes(value)) errors.push(`${where}[${index}]: listed twice`);
    else values.push(value);
  });
  return values;
}

function optionalMatch(
  raw: unknown,
  pattern: RegExp,
  where: string,
  what: string,
  errors: string[],
): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string' && pattern.test(raw)) return raw;
  errors.push(`${where}: must be ${what}`);
  return undefined;
}

function wholeNumber(raw: unknown, min: number, max: number, where: string, errors: string[]): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= min && raw <= max) return raw;
  errors.push(`${where}: must be a whole number from ${min} to ${max}`);
  return undefined;
}
