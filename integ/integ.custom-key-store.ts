/*
 * Deploys a CustomKeyStore on an activated CloudHSM cluster and a RESTRICTED key in it,
 * and asserts through the KMS API that the store is CONNECTED and the key's material
 * is in it (origin AWS_CLOUDHSM).
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account and a cluster made ready as the README's ceremony says):
 *   INTEG_CLUSTER_ID=cluster-... INTEG_TRUST_ANCHOR=path/to/customerCA.crt \
 *   INTEG_KMSUSER_SECRET=<secret name> npx integ-runner --directory integ --language typescript --force
 * The key opts in to deletion with KMS's shortest wait (7 days); the store is then kept
 * until the key is gone, and reported in its handler's log.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudHsmCluster, CustomKeyStore, DataClassification } from '../src';

const app = new App();
const stack = new Stack(app, 'CustomKeyStoreInteg');

const store = new CustomKeyStore(stack, 'Store', {
  cluster: CloudHsmCluster.fromClusterAttributes(stack, 'Cluster', { clusterId: process.env.INTEG_CLUSTER_ID ?? 'cluster-jxhlf7644ne' }),
  customKeyStoreName: 'cdk-kms-constructs-integ',
  trustAnchorCertificate: readFileSync(process.env.INTEG_TRUST_ANCHOR ?? join(__dirname, '..', 'example', 'customerCA.crt'), 'utf8'),
  kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, 'KmsUser', process.env.INTEG_KMSUSER_SECRET ?? 'cdk-kms-constructs-integ/kmsuser'),
  removalPolicy: RemovalPolicy.DESTROY,
});
const key = store.addKey('Restricted', {
  classification: DataClassification.RESTRICTED,
  viaServices: ['s3'],
  removalPolicy: RemovalPolicy.DESTROY,
  pendingWindow: Duration.days(7),
});

const integ = new IntegTest(app, 'CustomKeyStoreTest', { testCases: [stack] });
integ.assertions
  .awsApiCall('KMS', 'describeCustomKeyStores', { CustomKeyStoreId: store.customKeyStoreId })
  .expect(ExpectedResult.objectLike({ CustomKeyStores: [{ ConnectionState: 'CONNECTED', CustomKeyStoreType: 'AWS_CLOUDHSM' }] }));
integ.assertions
  .awsApiCall('KMS', 'describeKey', { KeyId: key.keyId })
  .expect(ExpectedResult.objectLike({ KeyMetadata: { Origin: 'AWS_CLOUDHSM', KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT' } }));

app.synth();
