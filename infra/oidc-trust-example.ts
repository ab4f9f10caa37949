/**
 * An EXAMPLE for the target account a workflow deploys to (not part of SpotcheckStack): an IAM OpenID Connect
 * provider for spotcheck's issuer and a role only one repository's one branch may assume with
 * `aws-actions/configure-aws-credentials` (`role-to-assume`, `id-token: write`). The trust policy is GitHub's
 * pattern for token.actions.githubusercontent.com with spotcheck's host: `<host>:aud` must be `sts.amazonaws.com`
 * and `<host>:sub` the repository and ref (`repo:owner/name:ref:refs/heads/main`); README "Cloud identity (OIDC)".
 *
 * The role has no permissions here: the account's owner attaches what the deploy needs.
 */
import { Construct } from 'constructs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { trimTrailingSlashes } from '../src/core/url.ts';

export interface SpotcheckOidcTrustProps {
  /** spotcheck's public URL, https (STS fetches `<url>/.well-known/openid-configuration` from it). */
  readonly issuerUrl: string;
  /** `owner/name`. */
  readonly repository: string;
  /** The branch whose runs may assume the role (`main`). */
  readonly branch: string;
  /** Default `sts.amazonaws.com`, configure-aws-credentials' default audience. */
  readonly audience?: string;
}

export class SpotcheckOidcTrust extends Construct {
  readonly provider: iam.OidcProviderNative;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SpotcheckOidcTrustProps) {
    super(scope, id);
    if (!props.issuerUrl.startsWith('https://'))
      throw new Error('issuerUrl must be an https URL: STS accepts no other issuer');
    const host = trimTrailingSlashes(props.issuerUrl.slice('https://'.length));
    const audience = props.audience ?? 'sts.amazonaws.com';
    // IAM has not needed thumbprints for providers whose certificate a public CA issued since 2023.
    this.provider = new iam.OidcProviderNative(this, 'Provider', { url: props.issuerUrl, clientIds: [audience] });
    this.role = new iam.Role(this, 'DeployRole', {
      description: `assumed by spotcheck runs of ${props.repository} on ${props.branch}`,
      assumedBy: new iam.WebIdentityPrincipal(this.provider.oidcProviderArn, {
        StringEquals: {
          [`${host}:aud`]: audience,
          [`${host}:sub`]: `repo:${props.repository}:ref:refs/heads/${props.branch}`,
        },
      }),
    });
  }
}
