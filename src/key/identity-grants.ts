import { CfnResource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { expandAction } from './actions';
import { referencedConstructs } from './consumer-registry';
import { referenceTarget } from './grantee';

/*
 * Identity policies of the app that allow KMS actions on a key. A ClassifiedKey
 * delegates nothing to IAM but reading its settings, so such a statement gives
 * nothing unless the key policy names the principal too: aws-cdk-lib's
 * `KeyGrants.fromKey(key)` and a hand-written `addToPrincipalPolicy` naming
 * `key.keyArn` write only that. The key finds them among its consumers and checks
 * them (see ClassifiedKey's learnConsumers).
 */

/** The IAM resource types whose documents may name a key. */
export const IDENTITY_POLICY_TYPES = ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::Role', 'AWS::IAM::User'];

/** A statement of an identity policy that allows KMS actions on the key, and whom it applies to. */
export interface IdentityGrant {
  /** The IAM resource that holds the statement. */
  readonly policy: CfnResource;
  /** The roles, users and groups the policy applies to. */
  readonly principals: IConstruct[];
  /** The KMS actions it allows on the key, expanded. */
  readonly actions: string[];
}

/** The allows on `keyArn` of an IAM resource that names the key. */
export function identityGrantsOf(resource: CfnResource, keyArn: string): IdentityGrant[] {
  const stack = Stack.of(resource);
  const key = JSON.stringify(stack.resolve(keyArn));
  const documents: unknown[] = [];
  const principals: IConstruct[] = [];
  if (resource instanceof iam.CfnPolicy || resource instanceof iam.CfnManagedPolicy) {
    documents.push(resource.policyDocument);
    // L2 policies keep their roles, users and groups in lazy lists: their references say whom.
    const attached = referencedConstructs(resource, [resource.roles, resource.users, resource.groups]);
    principals.push(...attached.filter(t => t instanceof iam.CfnRole || t instanceof iam.CfnUser || t instanceof iam.CfnGroup));
  } else if (resource instanceof iam.CfnRole || resource instanceof iam.CfnUser) {
    for (const policy of (stack.resolve(resource.policies) ?? []) as Array<{ PolicyDocument?: unknown }>) documents.push(policy.PolicyDocument);
    principals.push(resource);
  }
  const actions = new Set<string>();
  for (const document of documents) {
    const statements = [(stack.resolve(document) as { Statement?: unknown } | undefined)?.Statement ?? []].flat() as Array<Record<string, unknown>>;
    for (const statement of statements) {
      if (statement.Effect !== 'Allow' || statement.NotResource !== undefined) continue;
      const resources = [statement.Resource].flat().map(r => JSON.stringify(r));
      if (!resources.includes(key)) continue;
      for (const action of [statement.Action].flat()) {
        if (typeof action === 'string') for (const expanded of expandAction(action)) actions.add(expanded);
      }
    }
  }
  return actions.size === 0 ? [] : [{ policy: resource, principals, actions: [...actions] }];
}

/** The role, user or group a name or ARN references in the app. */
export function targetOf(value: string): IConstruct | undefined {
  const target = referenceTarget(value);
  return target instanceof iam.CfnRole || target instanceof iam.CfnUser || target instanceof iam.CfnGroup ? target : undefined;
}
