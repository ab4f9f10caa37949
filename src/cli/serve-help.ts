/**
 * `spotcheck serve --help`: every environment variable spotcheck reads, by who reads it. A test scans the sources
 * for `env.<NAME>` reads and fails when one is missing here or in the README.
 */
export const SERVE_USAGE = `usage: spotcheck serve        (npm start)

The bot: a webhook server for the GitHub App and/or one Gitea server. Configured by the environment only.

GitHub App (set any of them and the App is configured; Probot's names):
  APP_ID                 the GitHub App's id
  PRIVATE_KEY            the App's private key (PEM; "\\n" escapes allowed), or
  PRIVATE_KEY_PATH       a file holding it
  WEBHOOK_SECRET         the App's webhook secret
  APP_SLUG               the App's slug; unset: asked of GitHub in the background (GET /app), retried until it answers
  GHE_HOST               GitHub Enterprise Server host (default: github.com)
  GHE_PROTOCOL           https (default) or http, for GHE_HOST

Gitea (set any of them and Gitea is configured):
  GITEA_URL              the Gitea web root, e.g. https://gitea.example.org
  GITEA_TOKEN            the bot user's token
  GITEA_WEBHOOK_SECRET   the webhook's secret; may be unset when the config polls Gitea (gitea.poll): then no
                         Gitea webhook route is served and SPOTCHECK_AGENT_SECRET is required
  GITEA_BOT_LOGIN        the bot user's login; unset: read with GET /api/v1/user at start-up
  GITEA_CLONE_TOKEN      a read-only token of the bot user, for checkouts
  GITEA_ACTIONS_TOKEN    the read-only token steps get as github.token / secrets.GITHUB_TOKEN (default:
                         GITEA_CLONE_TOKEN; none for a job with permissions: {})

The server:
  PORT                   port to listen on (default 3000)
  HOST                   address to listen on (default 0.0.0.0)
  PUBLIC_URL             the absolute http(s) URL the forge, browsers and agents reach the server at (log links,
                         agent callbacks, the start-up lines); wins over publicUrl in the config file
  SPOTCHECK_CONFIG       the operator config file (routes, limits, store, org); paths in it are relative to it
  SPOTCHECK_DATA_DIR     the data folder (embedded store, logs, checkouts); default ./.spotcheck-data
  SPOTCHECK_AGENT_SECRET secret for agents' per-order tokens (>= 32 bytes; default: derived from a webhook secret;
                         required without one; every replica must have the same)
  SPOTCHECK_TICK_SECONDS the watchdog tick's period, 1 to 15 (default 15); shorter for tests and demos (the Gitea
                         poll still waits its intervalSeconds)
  SPOTCHECK_LOCAL_USER   the unprivileged user local-runner steps and checkouts run as (the server must run as
                         root); unset: as the server's own user, and then pull_request and testme orders on
                         local routes are refused
  SPOTCHECK_LOCAL_PR_AS_SERVER_USER
                         true: run pull_request and testme orders as the server's user anyway (their code can
                         read the server's secrets)
  METRICS_TOKEN          the bearer token /metrics wants (>= 16 bytes); unset: /metrics answers 403

Dashboard login (public repositories' runs need none; private ones need a login that can read them):
  GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET
                         the GitHub App's client id and a client secret (callback: <PUBLIC_URL>/login/github/callback)
  GITEA_OAUTH_CLIENT_ID, GITEA_OAUTH_CLIENT_SECRET
                         a Gitea OAuth2 application (redirect URI: <PUBLIC_URL>/login/gitea/callback)
  SPOTCHECK_SESSION_SECRET
                         signs sessions and private badge keys (>= 32 bytes; default: generated into the data folder)
  LOG_LEVEL              pino level (default info)
  LOG_FORMAT             json or pretty (default: pretty on a terminal, json otherwise)
  AWS_REGION             the AWS SDK's region, for cloud runners and a DynamoDB store (the SDK's own variables and
                         credentials chain apply)

Secrets from files: PRIVATE_KEY_FILE, WEBHOOK_SECRET_FILE, GITEA_TOKEN_FILE, GITEA_WEBHOOK_SECRET_FILE,
  GITEA_CLONE_TOKEN_FILE, GITEA_ACTIONS_TOKEN_FILE and SPOTCHECK_AGENT_SECRET_FILE name a file holding that secret,
  which keeps it out of the process's environment; serve removes the secret variables from its environment once read.

Other commands:
  SPOTCHECK_KEEP_LOGS    spotcheck run: keep the order logs (printed path) instead of removing them
  USER                   spotcheck run and plan: the actor (github.actor)
  XDG_CACHE_HOME         spotcheck run: downloaded actions go to $XDG_CACHE_HOME/spotcheck/actions (default ~/.cache)

On AWS Lambda (the CDK stack in infra/ sets these):
  SPOTCHECK_CONFIG_JSON  the operator config as JSON, instead of SPOTCHECK_CONFIG
  SPOTCHECK_SECRETS_ARN  a Secrets Manager secret whose JSON keys are variables (PRIVATE_KEY, WEBHOOK_SECRET, ...)
  SPOTCHECK_TABLE        the DynamoDB table
  SPOTCHECK_LOG_BUCKET   the S3 bucket for order logs
  SPOTCHECK_DYNAMODB_ENDPOINT, SPOTCHECK_S3_ENDPOINT   endpoints for local testing

Set by spotcheck on cloud agents (not by operators):
  SPOTCHECK_BOOTSTRAP_URL, SPOTCHECK_BOOTSTRAP_TOKEN, SPOTCHECK_RUNNER, SPOTCHECK_POWER_OFF, SPOTCHECK_IMDS_URL,
  SPOTCHECK_IMDS_POLL_MS, SPOTCHECK_WORKDIR

Routes: /runs (dashboard), /login and /logout, /api/github/webhooks, /api/gitea/webhooks, /healthz, /metrics (Prometheus),
/api/agent/report and /api/agent/bootstrap (agents). Start-up logs the dashboard, webhook and health URLs.
Steps on the local runner get PATH and LANG from this environment, nothing else, and HOME (their own with
SPOTCHECK_LOCAL_USER).
`;
