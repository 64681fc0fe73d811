import { Reference, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { Grantee } from './grantee';
import { mergeConditions } from './policy-conditions';

/*
 * A grantee of a ClassifiedKey that lives in another stack of the app: how the key
 * policy names it without the key's stack referencing it.
 */

/**
 * A role of another stack of the app. The key's stack must not reference it: the
 * other stack references the key, so the stacks would depend on each other, and
 * KMS refuses a policy that names a role before it exists. So the key policy names
 * the role's account and, by its literal ARN, the role in `aws:PrincipalArn`, and
 * the role gets an identity policy too, as KMS then requires. The role must have a
 * name: naming it here would replace it if it is deployed.
 */
export function crossStackGrantee(
  key: IConstruct, method: string, principal: iam.IPrincipal, view: Grantee,
): { arn: string; view: Grantee; target: IConstruct } | undefined {
  // The principal may wrap the role (a ViaServicePrincipal of secret.grantRead): the
  // role is what its ARN references.
  const arn = principal.policyFragment.principalJson.AWS?.[0];
  if (arn === undefined || !Token.isUnresolved(arn)) return undefined;
  const target = Tokenization.reverseString(arn).tokens.find((t): t is Reference => t instanceof Reference)?.target;
  if (target === undefined || Stack.of(target) === Stack.of(key)) return undefined;
  const role = target.node.scope;
  if (!(role instanceof iam.Role) || !(target instanceof iam.CfnRole)) {
    throw new Error(
      `${method} must be given a role to grant a principal of another stack (${target.node.path}): the key policy names it by ARN, which needs the role's name`,
    );
  }
  const cfnRole = target;
  // An unnamed L2 role's name is a token that renders as nothing. Naming it here
  // would replace a role that is already deployed (a new ARN and unique ID), and
  // break whatever outside the app refers to it: the user names it, knowingly.
  if (cfnRole.roleName === undefined || Stack.of(role).resolve(cfnRole.roleName) === undefined) {
    throw new Error(
      `${method} must be given a role of another stack that has a roleName, got ${role.node.path} without one: the key policy names a role of another stack by its ARN. `
      + 'Give the role a roleName (a role already deployed without one is then replaced: a new ARN, so plan it), or grant a role of the key\'s own stack',
    );
  }
  if (Token.isUnresolved(cfnRole.roleName)) {
    throw new Error(
      `${method} must be given a role of another stack whose roleName is known at synth, got ${role.node.path} named by a value known only at deploy time`,
    );
  }
  const account = Stack.of(role).account;
  const literalArn = Stack.of(key).formatArn({
    service: 'iam', region: '', account, resource: 'role', resourceName: `${(cfnRole.path ?? '/').replace(/^\//, '')}${cfnRole.roleName}`,
  });
  return {
    arn: literalArn,
    target: cfnRole,
    view: {
      ...view,
      principal: new iam.AccountPrincipal(account),
      account,
      conditions: mergeConditions(view.conditions, { ArnEquals: { 'aws:PrincipalArn': literalArn } }),
    },
  };
}
