/** `spotcheck secrets --help`: apart from the command, so the CLI's start-up does not load the store for it. */
export const SECRETS_USAGE = `usage:
  spotcheck secrets set NAME (--repo OWNER/NAME | --org OWNER) [--env ENVIRONMENT] [--outsiders] [STORE]
  spotcheck secrets list (--repo OWNER/NAME | --org OWNER) [--env ENVIRONMENT] [STORE]
  spotcheck secrets rm NAME... (--repo OWNER/NAME | --org OWNER) [--env ENVIRONMENT] [STORE]

Secrets for workflows (\`secrets.NAME\`), at an organization's, a repository's or a repository environment's level;
an order gets its org's, its repository's and (when its job names the environment) its environment's secrets, the
most specific level winning per name.

  set     reads the value from stdin: piped (one trailing newline is removed, as echo adds one), or typed at the
          terminal without echo; at most 48 KB. Replaces a secret of that name.
  list    names, update times and the outsiders flag; never values
  rm      removes secrets by name; exit 1 when one was not there

  --repo OWNER/NAME   a repository's secret
  --org OWNER         an organization's (or user's) secret: every repository of the owner
  --env ENVIRONMENT   with --repo: the secret of that environment, given only to jobs with environment: ENVIRONMENT
  --outsiders         set: also give it to runs of a non-member's pull request approved with !testme (default:
                      members' and push runs only; the approver approved the code, not what it may read)
  --forge github|gitea
                      the forge of the repository or owner (default github)
  --host HOST         the forge's host (default: GHE_HOST or github.com; for gitea, the host of GITEA_URL)

STORE (as \`spotcheck serve\` finds it):
  --config FILE       the operator config (default SPOTCHECK_CONFIG): store.kind dynamodb uses its table, and its
                      store.kmsKeyId wraps the values (AWS credentials and region as the SDK finds them)
  --data-dir DIR      the data folder of an embedded store (default SPOTCHECK_DATA_DIR, else ./.spotcheck-data);
                      values are wrapped by its secrets.key (mode 600). Its store is one process's: stop serve first.

Names: letters, digits and _, not starting with a digit or GITHUB_; case-insensitive (kept upper-case).
exit codes: 0 ok, 1 a secret to remove was not there or the store failed, 2 invalid name or usage
`;
