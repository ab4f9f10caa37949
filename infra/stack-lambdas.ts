/**
 * The two Lambdas and what calls them: the HTTP function behind the HTTP API's `$default` route, and the scheduled
 * function on a one-minute EventBridge rule. Each has its own log group and a role with the runtime policy plus
 * writing to that log group only (no AWSLambdaBasicExecutionRole, whose `logs:*` resources are `*`).
 */
import { Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';

/** The code of the two Lambdas: pre-bundled by scripts/bundle-lambda.mjs (infra/app.ts runs it), stubbed in tests. */
export interface SpotcheckLambdaCode {
  readonly code: lambda.Code;
  /** `<file without .mjs>.handler` of the HTTP handler, e.g. `lambda.handler`. */
  readonly httpHandler: string;
  readonly scheduledHandler: string;
}

interface FunctionShared {
  readonly code: lambda.Code;
  readonly runtimePolicy: iam.ManagedPolicy;
  readonly environment: Record<string, string>;
}

/**
 * One function behind the `$default` route (the router, src/server/router.ts, owns every path, `/` included, as
 * under `spotcheck serve`), and one on the tick.
 */
export function defineLambdas(
  stack: Stack,
  api: apigwv2.HttpApi,
  options: {
    readonly lambda: SpotcheckLambdaCode;
    readonly runtimePolicy: iam.ManagedPolicy;
    readonly environment: Record<string, string>;
  },
): void {
  const shared: FunctionShared = {
    code: options.lambda.code,
    runtimePolicy: options.runtimePolicy,
    environment: options.environment,
  };
  // API Gateway answers 503 after 30 s (HTTP API quotas, "Maximum integration timeout"); GitHub gives up after 10.
  const httpFunction = defineFunction(stack, shared, {
    id: 'HttpFunction',
    handler: options.lambda.httpHandler,
    timeout: Duration.seconds(29),
    description: 'spotcheck HTTP: webhooks, callbacks, logs, dashboard',
  });
  const scheduledFunction = defineFunction(stack, shared, {
    id: 'ScheduledFunction',
    handler: options.lambda.scheduledHandler,
    timeout: Duration.seconds(55),
    description: 'spotcheck tick: watchdog, inbox reconcile, janitor',
  });
  new apigwv2.HttpRoute(stack, 'DefaultRoute', {
    httpApi: api,
    routeKey: apigwv2.HttpRouteKey.DEFAULT,
    integration: new HttpLambdaIntegration('HttpIntegration', httpFunction, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    }),
  });
  new events.Rule(stack, 'Tick', {
    description: 'spotcheck: one watchdog + janitor tick a minute (the shortest EventBridge rate)',
    schedule: events.Schedule.rate(Duration.minutes(1)),
    targets: [new targets.LambdaFunction(scheduledFunction, { retryAttempts: 0 })],
  });
}

/** A function with its own log group, and a role with the runtime policy and that log group only. */
function defineFunction(
  stack: Stack,
  shared: FunctionShared,
  fn: { readonly id: string; readonly handler: string; readonly timeout: Duration; readonly description: string },
): lambda.Function {
  const logGroup = new logs.LogGroup(stack, `${fn.id}Logs`, {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new iam.Role(stack, `${fn.id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    managedPolicies: [shared.runtimePolicy],
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'OwnLogGroup',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return new lambda.Function(stack, fn.id, {
    description: fn.description,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    code: shared.code,
    handler: fn.handler,
    memorySize: 1024,
    timeout: fn.timeout,
    role,
    logGroup,
    environment: shared.environment,
  });
}
