/*
 * Deploys a CONFIDENTIAL ClassifiedKey with a KeyGrant of Decrypt to a role, constrained
 * by encryption context and expiring after an hour, and asserts against the real KMS API
 * that the grant exists with its grantee, operations and constraint. Deleting the stack
 * revokes it.
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account):  npx integ-runner --directory integ --language typescript --force integ.key-grant.ts
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ClassifiedKey, DataClassification, KeyGrant, KeyGrantOperation } from '../src';

const app = new App();
const stack = new Stack(app, 'KeyGrantInteg');

// Integ stacks are torn down after the run, so the key opts in to deletion.
const key = new ClassifiedKey(stack, 'Key', {
  classification: DataClassification.CONFIDENTIAL,
  encryptionContextKeys: ['audit-period'],
  removalPolicy: RemovalPolicy.DESTROY,
  pendingWindow: Duration.days(7),
});
const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
const grant = new KeyGrant(stack, 'AuditGrant', {
  key,
  grantee: analyst,
  operations: [KeyGrantOperation.DECRYPT, KeyGrantOperation.DESCRIBE_KEY],
  encryptionContextSubset: { 'audit-period': '2026' },
  expiresAfter: Duration.hours(1),
});

const integ = new IntegTest(app, 'KeyGrantTest', { testCases: [stack] });
integ.assertions
  .awsApiCall('KMS', 'listGrants', { KeyId: key.keyId, GrantId: grant.grantId })
  .expect(ExpectedResult.objectLike({
    Grants: Match.arrayWith([Match.objectLike({
      GrantId: grant.grantId,
      Name: grant.grantName,
      GranteePrincipal: analyst.roleArn,
      Operations: Match.arrayWith(['Decrypt']),
      Constraints: { EncryptionContextSubset: { 'audit-period': '2026' } },
    })]),
  }));
