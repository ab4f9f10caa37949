/**
 * Bounds on workflow files. A workflow comes from the repository under test, so anyone who can open a pull request
 * controls it: every dimension that could make parsing, planning or reporting slow or huge has a named cap here,
 * and exceeding one is a clear diagnostic, never a hang.
 */

/** Checked on the raw text before any YAML parsing, so an oversized file costs one length check. */
export const MAX_WORKFLOW_FILE_BYTES = 512 * 1024;

/** Workflow files read for one event (`.spotcheck/workflows/*.yml`); more are reported, not parsed. */
export const MAX_WORKFLOW_FILES = 100;

/**
 * `yaml`'s `maxAliasCount` (its own default is 100): how many times aliases may expand an anchored node before the
 * document is treated as an alias bomb ("billion laughs").
 */
export const MAX_YAML_ALIAS_COUNT = 100;

/**
 * Aliases (`*name`) written in one file. yaml resolves each alias by scanning the file's anchors and aliases, so
 * their number, not only their expansion, must be bounded; real workflows use a handful.
 */
export const MAX_YAML_ALIAS_NODES = 1000;

/** Collections nested inside collections, counted on the YAML syntax tree and again after alias expansion. */
export const MAX_YAML_DEPTH = 64;

/** Nodes visited while reading a document, aliases expanded: a backstop behind the alias count. */
export const MAX_YAML_NODES = 100_000;

/** Jobs per workflow file. */
export const MAX_JOBS = 256;

/** Steps per job. */
export const MAX_STEPS_PER_JOB = 256;

/** Orders one matrix may expand to; GitHub's own limit is 256 jobs per matrix. */
export const MAX_MATRIX_ORDERS = 256;

/**
 * The product of axis lengths above which a matrix is rejected without enumerating it: excludes could only bring
 * it under MAX_MATRIX_ORDERS by removing more than 15/16 of it, and the enumeration stays cheap.
 */
export const MAX_MATRIX_PRODUCT = 16 * MAX_MATRIX_ORDERS;

/** Entries in `strategy.matrix.include` and in `strategy.matrix.exclude`, each. */
export const MAX_MATRIX_FILTER_ENTRIES = 256;

/** Characters in one branch/tag/path filter pattern (Git refs and paths this long are unusual already). */
export const MAX_FILTER_PATTERN_LENGTH = 255;

/** Patterns in one filter list (`branches`, `paths-ignore`, ...). */
export const MAX_FILTER_PATTERNS = 100;

/** `timeout-minutes` upper bound: GitHub's job execution limit on self-hosted runners is 5 days. */
export const MAX_TIMEOUT_MINUTES = 5 * 24 * 60;

/** Diagnostics reported per file; the rest are summarised in one line so a broken file cannot flood a comment. */
export const MAX_DIAGNOSTICS_PER_FILE = 50;

/**
 * GitHub's limits on reusable workflows (docs, "Reusing workflow configurations", Limitations; github.com values):
 * "You can connect up to ten levels of workflows" (the top-level caller and up to nine levels of called workflows),
 * and "a maximum of 50 unique reusable workflows from a single workflow file", nested trees included.
 */
export const MAX_WORKFLOW_LEVELS = 10;
export const MAX_UNIQUE_CALLED_WORKFLOWS = 50;

/**
 * spotcheck's bound on a job concurrency group, in UTF-8 bytes once evaluated: the group names a store document
 * whose key, URL-encoded (at most 3 characters per byte) after the repository, must stay within DynamoDB's 2,048-byte
 * partition key. GitHub documents no limit; real groups are a few dozen characters.
 */
export const MAX_CONCURRENCY_GROUP_BYTES = 400;
