import * as iam from 'aws-cdk-lib/aws-iam';

/*
 * The key policy's deny of grants not for AWS resources, and its one kind of
 * exception: the handler of a KeyGrant, which creates grants for principals.
 */

/**
 * Control Tower CT.KMS.PR.3 checks for exactly this statement: nobody, whatever their
 * identity policies, creates a grant on the key unless an AWS service integrated with
 * KMS creates it for its resource, or is itself the caller.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
 */
export function grantsNotForAwsResourcesDeny(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'DenyGrantsNotForAwsResources',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: {
      BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
    },
  });
}

/**
 * Adds `creatorArn` to the grant creators, whom the grant deny excepts by
 * `aws:PrincipalArn`, and so does the network perimeter (its handler calls from AWS's
 * network). CT.KMS.PR.3 takes the deny with no exception, so a key with a KeyGrant
 * fails that control: a documented exception (README, "AWS Control Tower proactive controls").
 */
export function exceptGrantCreator(
  creators: string[], creatorArn: string, grantDeny: iam.PolicyStatement, perimeter: iam.PolicyStatement | undefined, policyWriters: string[],
): void {
  if (!creators.includes(creatorArn)) creators.push(creatorArn);
  grantDeny.addCondition('ArnNotEquals', { 'aws:PrincipalArn': [...creators] });
  perimeter?.addCondition('ArnNotEquals', { 'aws:PrincipalArn': [...policyWriters, ...creators] });
}
