import * as iam from 'aws-cdk-lib/aws-iam';
import { DENIED_TO_ADMINISTRATORS, DENIED_TO_USERS } from './actions';

/*
 * Separation of duties in a key policy: denies of cryptography to the key's
 * administrators and of administration to its users, which hold against any IAM
 * policy.
 */

/**
 * Adds to `document` the denies that separate the key's administrators from its
 * users, each principal named by `aws:PrincipalArn`; a side with no principal named
 * by ARN gets no deny.
 */
export function denySeparatedDuties(document: iam.PolicyDocument, administrators: () => iam.IPrincipal[], users: () => iam.IPrincipal[]): void {
  // By aws:PrincipalArn, so that a role another stack creates later can be named.
  const deny = (sid: string, principals: iam.IPrincipal[], denied: string[]) => {
    const arns = principals.flatMap(p => p.policyFragment.principalJson.AWS ?? []);
    if (arns.length === 0) return;
    document.addStatements(new iam.PolicyStatement({
      sid,
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: denied,
      resources: ['*'],
      conditions: { ArnEquals: { 'aws:PrincipalArn': arns } },
    }));
  };
  // Always, even where nothing in the policy allows an administrator cryptography:
  // a grant that names an administrator under another principal (an imported role
  // of the same ARN) is then still no way to use the key.
  deny('DenyCryptographyToAdministrators', administrators(), DENIED_TO_ADMINISTRATORS);
  deny('DenyAdministrationToUsers', users(), DENIED_TO_USERS);
}
