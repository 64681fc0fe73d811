/*
 * Deploys a CONFIDENTIAL and a RESTRICTED ClassifiedKey and asserts, against the real
 * KMS API, that each key is enabled and rotates on its classification's period.
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account):  npx integ-runner --directory integ --language typescript --force
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ClassifiedKey, DataClassification } from '../src';

const app = new App();
const stack = new Stack(app, 'ClassifiedKeyInteg');

// Integ stacks are torn down after the run, so these keys opt in to deletion, with
// the shortest wait KMS allows.
const confidential = new ClassifiedKey(stack, 'Confidential', {
  classification: DataClassification.CONFIDENTIAL,
  owner: 'integ',
  removalPolicy: RemovalPolicy.DESTROY,
  pendingWindow: Duration.days(7),
});
const restricted = new ClassifiedKey(stack, 'Restricted', {
  classification: DataClassification.RESTRICTED,
  viaServices: ['s3'],
  removalPolicy: RemovalPolicy.DESTROY,
  pendingWindow: Duration.days(7),
});
new s3.Bucket(stack, 'Bucket', {
  encryptionKey: restricted,
  enforceSSL: true,
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'ClassifiedKeyTest', { testCases: [stack] });

for (const [key, days] of [[confidential, 180], [restricted, 90]] as const) {
  integ.assertions
    .awsApiCall('KMS', 'describeKey', { KeyId: key.keyId })
    .expect(ExpectedResult.objectLike({ KeyMetadata: { Enabled: true, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT' } }));
  integ.assertions
    .awsApiCall('KMS', 'getKeyRotationStatus', { KeyId: key.keyId })
    .expect(ExpectedResult.objectLike({ KeyRotationEnabled: true, RotationPeriodInDays: days }));
}

app.synth();
