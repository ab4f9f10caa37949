/**
 * The secrets pages: an organization's or a repository's secrets as a table (name, level, last update, whether
 * approved outsiders' runs get it), a form that sets one and a button per row that removes one. No value is ever
 * rendered: not in the table, not back into the form after a refused post (the form comes back with the name only).
 */
import { MAX_ENVIRONMENT_NAME_LENGTH, type SecretInfo } from '../../core/secrets.ts';
import { html, type SafeHtml } from './html.ts';
import { renderPage, type Account } from './page.ts';
import { timeText } from './view-parts.ts';

export const SECRETS_PATH = '/secrets';

/** `/secrets/<owner>` or `/secrets/<owner>/<repo>`. */
export function secretsPath(owner: string, name?: string): string {
  return `${SECRETS_PATH}/${encodeURIComponent(owner)}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

export type SecretLevelChoice = 'org' | 'repo' | 'environment';

export interface SecretsPageInput {
  /** `owner` (an organization's page) or `owner/name` (a repository's). */
  readonly title: string;
  readonly host: string;
  /** Where the forms post: this page's own path. */
  readonly action: string;
  readonly csrf: string;
  readonly account: Account;
  /** The secrets shown, with whether this page may remove each (an organization's, on a repository's page: no). */
  readonly rows: readonly { readonly secret: SecretInfo; readonly removable: boolean }[];
  /** The levels the form offers, the first chosen. */
  readonly levels: readonly SecretLevelChoice[];
  /** What the last post did (`set NAME`), or why it was refused; the name the form is filled with again. */
  readonly notice?: string;
  readonly problem?: string;
  readonly formName?: string;
  readonly formEnvironment?: string;
  /** A note under the table (an organization's secrets are managed on its own page). */
  readonly note?: SafeHtml;
}

const LEVEL_WORDS = { org: 'Organization', repo: 'Repository', environment: 'Environment' } as const;

function levelText(secret: SecretInfo): string {
  const { scope } = secret;
  return scope.level === 'environment' ? `Environment ${scope.environment}` : LEVEL_WORDS[scope.level];
}

function row(input: SecretsPageInput, secret: SecretInfo, removable: boolean): SafeHtml {
  const { scope } = secret;
  const remove = removable
    ? html`<form method="post" action="${input.action}">
        <input type="hidden" name="csrf" value="${input.csrf}" />
        <input type="hidden" name="op" value="remove" />
        <input type="hidden" name="name" value="${secret.name}" />
        <input type="hidden" name="level" value="${scope.level}" />
        ${
          scope.level === 'environment'
            ? html`<input type="hidden" name="environment" value="${scope.environment}" />`
            : ''
        }
        <button type="submit" aria-label="${`Remove ${secret.name} (${levelText(secret)})`}">Remove</button>
      </form>`
    : '';
  return html`<tr>
    <td data-label="Name"><code>${secret.name}</code></td>
    <td data-label="Level">${levelText(secret)}</td>
    <td data-label="Updated" class="num">${timeText(secret.updatedAt)}</td>
    <td data-label="Outsiders">${secret.outsiders ? 'yes' : 'no'}</td>
    <td data-label="">${remove}</td>
  </tr>`;
}

function setForm(input: SecretsPageInput): SafeHtml {
  const [first] = input.levels;
  const level =
    input.levels.length === 1
      ? html`<input type="hidden" name="level" value="${first}" />`
      : html`<label
          >Level
          <select name="level">
            ${input.levels.map((l) => html`<option value="${l}">${LEVEL_WORDS[l]}</option>`)}
          </select></label
        >`;
  const environment = input.levels.includes('environment')
    ? html`<label
        >Environment (for the environment level)
        <input
          name="environment"
          value="${input.formEnvironment ?? ''}"
          maxlength="${MAX_ENVIRONMENT_NAME_LENGTH}"
          autocomplete="off"
      /></label>`
    : '';
  // The value is a textarea (secrets span lines: keys, certificates) that is always rendered empty.
  return html`<form class="secret" method="post" action="${input.action}">
    <input type="hidden" name="csrf" value="${input.csrf}" />
    <input type="hidden" name="op" value="set" />
    <label
      >Name
      <input
        name="name"
        value="${input.formName ?? ''}"
        required
        pattern="[A-Za-z_][A-Za-z0-9_]*"
        autocomplete="off"
        spellcheck="false"
    /></label>
    <label
      >Value
      <textarea name="value" required rows="4" autocomplete="off" spellcheck="false"></textarea>
    </label>
    ${level} ${environment}
    <label class="check"><input type="checkbox" name="outsiders" value="yes" /> Available to approved outsiders</label>
    <button type="submit">Set secret</button>
  </form>`;
}

export function renderSecretsPage(input: SecretsPageInput): string {
  const table =
    input.rows.length === 0
      ? html`<p>No secrets yet.</p>`
      : html`<table class="stack">
          <caption>
            Secrets, by name; values are never shown
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Level</th>
              <th scope="col">Updated</th>
              <th scope="col">Outsiders</th>
              <th scope="col"><span class="skip">Remove</span></th>
            </tr>
          </thead>
          <tbody>
            ${input.rows.map((r) => row(input, r.secret, r.removable))}
          </tbody>
        </table>`;
  const main = html`<h1>Secrets of ${input.title}</h1>
    <p class="note">
      On ${input.host}. A job gets a secret by name; an approved outsider's run only those marked for outsiders.
    </p>
    ${input.notice === undefined ? '' : html`<p role="status" class="notice">${input.notice}</p>`}
    ${input.problem === undefined ? '' : html`<p role="alert" class="problem">${input.problem}</p>`} ${table}
    ${input.note ?? ''}
    <h2>Set a secret</h2>
    ${setForm(input)}`;
  return renderPage({
    account: input.account,
    title: `Secrets of ${input.title}`,
    crumbs: [{ label: 'Secrets', href: SECRETS_PATH }, { label: input.title }],
    main,
  });
}

/** `/secrets`: which organization's or repository's secrets to manage. */
export function renderSecretsIndex(account: Account, problem?: string): string {
  const main = html`<h1>Secrets</h1>
    ${problem === undefined ? '' : html`<p role="alert" class="problem">${problem}</p>`}
    <form class="filter" method="get" action="${SECRETS_PATH}">
      <label
        >Organization or repository <input name="for" placeholder="owner or owner/name" required autocomplete="off"
      /></label>
      <button type="submit">Show</button>
    </form>
    <p class="note">Repository secrets are for the repository's admins, organization secrets for its owners.</p>`;
  return renderPage({ account, title: 'Secrets', crumbs: [{ label: 'Secrets' }], main });
}
