/*
 * Deploys a CONFIDENTIAL MultiRegionKeySet in two Regions (us-east-1 primary,
 * eu-west-1 replica) with a DynamoDB global table encrypted by the set's key in both,
 * and asserts against the real KMS API, in the replica's Region, that the replica is
 * an enabled REPLICA key whose primary is in us-east-1.
 *
 * Verify the snapshot offline:   npx projen integ
 * Deploy it (needs an account; a set is never cross-account, so it names one):
 *   INTEG_ACCOUNT=<your 12-digit account> npx integ-runner --directory integ --language typescript --force
 * The stacks are deployed primary first and destroyed replica first, as their
 * dependency says; both keys opt in to deletion with KMS's shortest wait (7 days).
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { DataClassification, MultiRegionKeySet } from '../src';

const app = new App();
const account = process.env.INTEG_ACCOUNT ?? '111111111111';

const set = new MultiRegionKeySet(app, 'MultiRegionKeySetInteg', {
  account,
  primaryRegion: 'us-east-1',
  replicaRegions: ['eu-west-1'],
  classification: DataClassification.CONFIDENTIAL,
  viaServices: ['dynamodb'],
  alias: 'alias/integ/multi-region-key-set',
  owner: 'integ',
  removalPolicy: RemovalPolicy.DESTROY,
  pendingWindow: Duration.days(7),
});

// The table in a stack of its own, deployed after every Region's key it names.
const tables = new Stack(app, 'MultiRegionKeySetIntegTables', { env: { account, region: 'us-east-1' } });
new dynamodb.TableV2(tables, 'Orders', {
  partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  replicas: [{ region: 'eu-west-1' }],
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  encryption: dynamodb.TableEncryptionV2.customerManagedKey(set.primaryKey, { 'eu-west-1': set.keyArnForRegion('eu-west-1') }),
  removalPolicy: RemovalPolicy.DESTROY,
});

// The assertions run in the replica's Region, where its alias names it.
const assertions = new Stack(app, 'MultiRegionKeySetAssertions', { env: { account, region: 'eu-west-1' } });
const integ = new IntegTest(app, 'MultiRegionKeySetTest', {
  testCases: [...set.regions.map(region => set.stackIn(region)), tables],
  assertionStack: assertions,
});
integ.assertions
  .awsApiCall('KMS', 'describeKey', { KeyId: 'alias/integ/multi-region-key-set' })
  .expect(ExpectedResult.objectLike({
    KeyMetadata: {
      Enabled: true,
      KeyState: 'Enabled',
      MultiRegion: true,
      MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Region: 'us-east-1' } },
    },
  }));

app.synth();
