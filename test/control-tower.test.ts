/**
 * AWS Control Tower's proactive controls, run as AWS publishes them (cfn-guard rules,
 * through @cdklabs/cdk-validator-cfnguard) on the synthesized templates of every
 * construct and of the example app. What the library emits must pass every control of
 * the KMS, CloudTrail, CloudWatch, S3, IAM, Lambda and SQS folders but the documented
 * exceptions below, which the README's compliance table names with their reasons.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { App, Duration, Stack, Stage } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { IConstruct } from 'constructs';
import { PaymentsPlatform } from '../example/platform';
import {
  ClassifiedKey, CloudHsmCluster, CustomKeyStore, DataClassification, KeyAuditTrail, KeyComplianceEvidence, KeyEventsDestination, KeyGrant,
  KeyGrantOperation, KmsInterfaceEndpoint, MultiRegionKeySet,
} from '../src';
import { CONTROL_TOWER_FOLDERS, controlTowerFailures, RULE_FOLDERS } from './support/control-tower';
import { nagFindings } from './support/nag';
import { ACCOUNT, managementStackWithGuardrails, newBareStack, REGION } from './support/stack';

/**
 * The controls no template can meet, by what they are on. The README's compliance
 * table lists each with its reason.
 */
const EXCEPTIONS = {
  /**
   * The bucket a created trail's bucket logs its S3 access to: S3 delivers server
   * access logs only to SSE-S3 buckets, and the last bucket of the chain logs nowhere.
   * (It has Object Lock, with no default retention: CT.S3.PR.9 passes.)
   */
  accessLogsBucket: ['CT.S3.PR.10', 'CT.S3.PR.2'],
  /**
   * The watch's log group of a KeyAuditTrail given both `existingLogGroup` and
   * `alarmTopic`: the library makes no audit key then, and CloudWatch Logs encrypts
   * the log group with a key of its own.
   */
  serviceEncryptedEventsLogGroup: ['CT.CLOUDWATCH.PR.3'],
  /** A key of imported material: KMS cannot rotate it automatically. */
  importedMaterial: ['CT.KMS.PR.1'],
  /** A key with a KeyGrant: its grant deny excepts the grant's handler by aws:PrincipalArn. */
  keyGrant: ['CT.KMS.PR.3'],
  /**
   * A function of the library's custom resources (and its Provider framework) outside
   * a VPC: without `handlerVpc`, it calls only AWS APIs, during deployments.
   */
  customResourceFunction: ['CT.LAMBDA.PR.3'],
};

/** The constructs whose resources are the library's. */
function libraryScopes(stacks: Stack[]): IConstruct[] {
  return stacks.flatMap(stack => stack.node.findAll().filter(c => ClassifiedKey.isClassifiedKey(c) || KeyAuditTrail.isKeyAuditTrail(c)
    || c instanceof CustomKeyStore || c instanceof CloudHsmCluster || c instanceof KeyGrant || c instanceof KeyComplianceEvidence
    || (c.node.id === 'KmsConstructsCustomResources' && c.node.scope === stack)));
}

/** The Control Tower failures of the library's resources in the stacks, as `<control> <path>`. */
function libraryFailures(...stacks: Stack[]): string[] {
  const scopes = libraryScopes(stacks).map(c => `${c.node.path}/`);
  return controlTowerFailures(...stacks).filter(failure => {
    const path = failure.slice(failure.indexOf(' ') + 1);
    return scopes.some(scope => path.startsWith(scope));
  });
}

/** The documented exceptions the library's resources in the stacks are expected to have. */
function documentedExceptions(...stacks: Stack[]): string[] {
  // The account's trail, and with it the access-log bucket, is placed once the app is complete.
  Stage.of(stacks[0])!.synth();
  const expected: string[] = [];
  for (const construct of libraryScopes(stacks)) {
    if (KeyAuditTrail.isKeyAuditTrail(construct) && construct.accessLogsBucket?.node.scope === construct) {
      expected.push(...EXCEPTIONS.accessLogsBucket.map(control => `${control} ${construct.accessLogsBucket!.node.path}/Resource`));
    }
    if (KeyAuditTrail.isKeyAuditTrail(construct) && !construct.auditKey) {
      expected.push(...EXCEPTIONS.serviceEncryptedEventsLogGroup.map(control => `${control} ${construct.eventsLogGroup.node.path}/Resource`));
    }
    if (ClassifiedKey.isClassifiedKey(construct) && stacks.some(st => st.node.findAll().some(c => c instanceof KeyGrant && c.key === construct))) {
      expected.push(...EXCEPTIONS.keyGrant.map(control => `${control} ${construct.node.path}/Resource`));
    }
    if (ClassifiedKey.isClassifiedKey(construct) && (construct.node.defaultChild as kms.CfnKey).origin === 'EXTERNAL') {
      expected.push(...EXCEPTIONS.importedMaterial.map(control => `${control} ${construct.node.path}/Resource`));
    }
    for (const fn of construct.node.findAll().filter(c => c instanceof lambda.CfnFunction && !c.vpcConfig)) {
      expected.push(...EXCEPTIONS.customResourceFunction.map(control => `${control} ${fn.node.path}`));
    }
  }
  return expected.sort();
}

/**
 * The CT.S3 controls each bucket the library makes fails, by construct path: every
 * bucket of the library's must fail none, but the documented exceptions of the
 * access-log bucket (`EXCEPTIONS.accessLogsBucket`; Object Lock, CT.S3.PR.9, is no
 * longer one). `failures` are the stacks' `libraryFailures`.
 */
function expectLibraryBucketsPassS3(failures: string[], ...stacks: Stack[]): string[] {
  Stage.of(stacks[0])!.synth();
  const accessLogsBuckets = new Set(libraryScopes(stacks).filter(KeyAuditTrail.isKeyAuditTrail)
    .map(trail => trail.accessLogsBucket?.node.defaultChild?.node.path));
  const buckets = libraryScopes(stacks).flatMap(scope => scope.node.findAll()).filter(c => c instanceof s3.CfnBucket).map(c => c.node.path);
  const failed = (bucket: string) => failures.filter(f => f.startsWith('CT.S3.') && f.endsWith(` ${bucket}`)).map(f => f.split(' ')[0]).sort();
  const expected = (bucket: string) => (accessLogsBuckets.has(bucket) ? [...EXCEPTIONS.accessLogsBucket].sort() : []);
  expect(Object.fromEntries(buckets.map(bucket => [bucket, failed(bucket)])))
    .toEqual(Object.fromEntries(buckets.map(bucket => [bucket, expected(bucket)])));
  expect(failures.filter(f => f.startsWith('CT.S3.PR.9 '))).toEqual([]);
  return [...new Set(buckets)].sort();
}

describe('the rules', () => {
  test('every folder run is in the published rules; SNS has none published as cfn-guard rules yet', () => {
    expect(RULE_FOLDERS.map(path => path.split('/').pop())).toEqual(CONTROL_TOWER_FOLDERS.filter(folder => folder !== 'sns'));
  });

  test('catch what they are meant to: a plain kms.Key fails CT.KMS.PR.1 and CT.KMS.PR.3', () => {
    const stack = newBareStack();
    new kms.Key(stack, 'Plain', { enableKeyRotation: false });
    expect(controlTowerFailures(stack)).toEqual(['CT.KMS.PR.1 TestStack/Plain/Resource', 'CT.KMS.PR.3 TestStack/Plain/Resource']);
  });
});

describe('ClassifiedKey', () => {
  test('every classification, usage and option passes but the documented exceptions, with a created trail', () => {
    // GIVEN a stack whose first key creates the full audit trail
    const stack = newBareStack();
    const role = new iam.Role(stack, 'App', { assumedBy: new iam.AccountRootPrincipal() });
    new ClassifiedKey(stack, 'Public', { classification: DataClassification.PUBLIC });
    const internal = new ClassifiedKey(stack, 'Internal', { classification: DataClassification.INTERNAL, allowAccountRootCryptography: true });
    const confidential = new ClassifiedKey(stack, 'Confidential', { classification: DataClassification.CONFIDENTIAL });
    const restricted = new ClassifiedKey(stack, 'Restricted', {
      classification: DataClassification.RESTRICTED,
      viaServices: ['s3', 'sqs'],
      encryptionContextKeys: ['tenant'],
      organizationId: 'o-a1b2c3d4e5',
      owner: 'platform',
      complianceScopes: ['pci-dss'],
    });
    new ClassifiedKey(stack, 'RsaEncryption', { classification: DataClassification.CONFIDENTIAL, keySpec: kms.KeySpec.RSA_3072, keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT });
    new ClassifiedKey(stack, 'Signing', { classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY });
    new ClassifiedKey(stack, 'Hmac', { classification: DataClassification.CONFIDENTIAL, keySpec: kms.KeySpec.HMAC_256 });
    new ClassifiedKey(stack, 'Agreement', { classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P384, keyUsage: kms.KeyUsage.KEY_AGREEMENT });
    new ClassifiedKey(stack, 'Imported', { classification: DataClassification.CONFIDENTIAL, importKeyMaterial: true });
    // AND grants and consumers that write into the key policies
    internal.grantEncryptDecrypt(role);
    confidential.grantAdmin(new iam.Role(stack, 'Ops', { assumedBy: new iam.AccountRootPrincipal() }));
    new s3.Bucket(stack, 'Data', { encryptionKey: restricted, enforceSSL: true }).grantRead(role);
    new sqs.Queue(stack, 'Queue', { encryptionMasterKey: confidential, enforceSSL: true }).grantSendMessages(role);
    restricted.addAlias('alias/restricted/extra');

    // THEN
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(failures).toEqual(expect.arrayContaining(['CT.KMS.PR.1 TestStack/Imported/Resource']));
    expect(expectLibraryBucketsPassS3(failures, stack)).toEqual([
      'TestStack/KeyAuditTrail/AccessLogsBucket/Resource',
      'TestStack/KeyAuditTrail/Bucket/Resource',
    ]);
  });

  test('a key attached to an organization trail and topic fails only CT.CLOUDWATCH.PR.3, on the watch\'s log group no audit key encrypts', () => {
    const stack = newBareStack();
    const trail = new KeyAuditTrail(stack, 'KeyAuditTrail', {
      existingLogGroup: logs.LogGroup.fromLogGroupName(stack, 'OrgTrail', 'org-trail'),
      alarmTopic: sns.Topic.fromTopicArn(stack, 'Alarms', `arn:aws:sns:${REGION}:${ACCOUNT}:security-alarms`),
    });
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['dynamodb'] });
    expect(trail.auditKey).toBeUndefined();
    const failures = libraryFailures(stack);
    expect(failures).toEqual(['CT.CLOUDWATCH.PR.3 TestStack/KeyAuditTrail/EventsLogGroup/Resource']);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(expectLibraryBucketsPassS3(failures, stack)).toEqual([]);
  });
});

describe('KeyAuditTrail', () => {
  test('a created trail passes but the two controls its access-log bucket cannot meet', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'Audit', { alarmEmails: ['secops@example.com'], retention: logs.RetentionDays.TWO_YEARS });
    const failures = libraryFailures(stack);
    expect(failures).toEqual([
      'CT.S3.PR.10 TestStack/Audit/AccessLogsBucket/Resource',
      'CT.S3.PR.2 TestStack/Audit/AccessLogsBucket/Resource',
    ]);
    expect(expectLibraryBucketsPassS3(failures, stack)).toEqual(['TestStack/Audit/AccessLogsBucket/Resource', 'TestStack/Audit/Bucket/Resource']);
  });

  test('with the organization\'s access-log bucket, a created trail has no failure at all, and cdk-nag none', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'KeyAuditTrail', {
      accessLogsBucket: s3.Bucket.fromBucketName(stack, 'OrgAccessLogs', `org-access-logs-${ACCOUNT}`),
      objectLockRetention: s3.ObjectLockRetention.compliance(Duration.days(400)),
    });
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const failures = libraryFailures(stack);
    expect(failures).toEqual([]);
    expect(expectLibraryBucketsPassS3(failures, stack)).toEqual(['TestStack/KeyAuditTrail/Bucket/Resource']);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('attached to an existing trail, with its own alarm topic and audit key, it has no failure', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'KeyAuditTrail', { existingLogGroup: logs.LogGroup.fromLogGroupName(stack, 'OrgTrail', 'org-trail') });
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const failures = libraryFailures(stack);
    expect(failures).toEqual([]);
    expect(expectLibraryBucketsPassS3(failures, stack)).toEqual([]);
  });

  test('logs kept forever still pass but the documented exceptions', () => {
    const stack = newBareStack();
    new KeyAuditTrail(stack, 'KeyAuditTrail', { retention: logs.RetentionDays.INFINITE });
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(expectLibraryBucketsPassS3(failures, stack)).toHaveLength(2);
  });
});

describe('MultiRegionKeySet', () => {
  test.each([DataClassification.INTERNAL, DataClassification.RESTRICTED])('every stack of a %s set, with a global table, passes but the documented exceptions', classification => {
    const app = new App();
    const set = new MultiRegionKeySet(app, 'Orders', {
      account: ACCOUNT,
      primaryRegion: 'us-east-1',
      replicaRegions: ['eu-west-1', 'ap-southeast-2'],
      classification,
      viaServices: ['dynamodb'],
      importKeyMaterial: classification === DataClassification.INTERNAL,
    });
    const tables = new Stack(app, 'Tables', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new dynamodb.TableV2(tables, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      replicas: [{ region: 'eu-west-1' }],
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(set.primaryKey, { 'eu-west-1': set.keyArnForRegion('eu-west-1') }),
    });
    const stacks = [...set.regions.map(region => set.stackIn(region)), tables];
    const failures = libraryFailures(...stacks);
    expect(failures).toEqual(documentedExceptions(...stacks));
    // The account's one trail, and its buckets, in the alphabetically-first Region's stack.
    expect(expectLibraryBucketsPassS3(failures, ...stacks)).toEqual([
      'Orders-ap-southeast-2/KeyAuditTrail/AccessLogsBucket/Resource',
      'Orders-ap-southeast-2/KeyAuditTrail/Bucket/Resource',
    ]);
    // Exactly the lookup's function and its Provider framework's, in each replica stack.
    expect(failures.filter(f => f.startsWith('CT.LAMBDA.PR.3'))).toEqual(['ap-southeast-2', 'eu-west-1'].flatMap(region => [
      `CT.LAMBDA.PR.3 Orders-${region}/KmsConstructsCustomResources/PrimaryKeyLookup/Handler/Resource`,
      `CT.LAMBDA.PR.3 Orders-${region}/KmsConstructsCustomResources/PrimaryKeyLookup/Provider/framework-onEvent/Resource`,
    ]));
  });
});

describe('CustomKeyStore', () => {
  test('the store, its keys, their handlers and the Provider framework\'s waiter pass but the documented exceptions', () => {
    const stack = newBareStack();
    const store = new CustomKeyStore(stack, 'Store', {
      cluster: CloudHsmCluster.fromClusterAttributes(stack, 'Cluster', { clusterId: 'cluster-2a3b4cdefgh' }),
      customKeyStoreName: 'payments-hsm',
      trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, 'Password', 'kmsuser-password'),
    });
    store.addKey('Restricted', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] });
    store.addKey('Internal', { classification: DataClassification.INTERNAL });
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(expectLibraryBucketsPassS3(failures, stack)).toHaveLength(2);
    // Exactly the handlers and the Provider frameworks' functions: the store's five, the keys' two.
    expect(failures.filter(f => f.startsWith('CT.LAMBDA.PR.3')).map(f => f.split(' ')[1])).toEqual([
      'CustomKeyStore/Handler', 'CustomKeyStore/IsComplete', 'CustomKeyStore/Provider/framework-isComplete',
      'CustomKeyStore/Provider/framework-onEvent', 'CustomKeyStore/Provider/framework-onTimeout',
      'HsmKey/Handler', 'HsmKey/Provider/framework-onEvent',
    ].map(path => `TestStack/KmsConstructsCustomResources/${path}/Resource`));
  });
});

describe('with handlerVpc, every function of the library runs in the VPC: no CT.LAMBDA.PR.3 failure', () => {
  const lambdaFailures = (...stacks: Stack[]) => controlTowerFailures(...stacks).filter(f => f.startsWith('CT.LAMBDA'));
  const password = (stack: Stack) => secretsmanager.Secret.fromSecretNameV2(stack, 'Password', 'kmsuser-password');

  test('a new cluster and its initialization, a store and its keys, in a VPC of the stack with the endpoints they need', () => {
    const stack = newBareStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'hsm', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const handlerVpc = { vpc, createEndpoints: true };
    const certificateAuthority = acmpca.CertificateAuthority.fromCertificateAuthorityArn(stack, 'Ca',
      `arn:aws:acm-pca:${REGION}:${ACCOUNT}:certificate-authority/11111111-2222-3333-4444-555555555555`);
    const cluster = new CloudHsmCluster(stack, 'Cluster', { vpc, certificateAuthority, activated: true, handlerVpc });
    const store = new CustomKeyStore(stack, 'Store', {
      cluster, customKeyStoreName: 'payments-hsm', trustAnchorCertificate: cluster.trustAnchorCertificate!, kmsUserPassword: password(stack), handlerVpc,
    });
    store.addKey('Restricted', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] });
    const functions = stack.node.findAll().filter(c => c instanceof lambda.CfnFunction);
    expect(functions.length).toBe(17);
    expect(lambdaFailures(stack)).toEqual([]);
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(expectLibraryBucketsPassS3(failures, stack)).toHaveLength(2);
  });

  test('an adopted cluster\'s store with its keys, in an imported VPC\'s subnets with a NAT gateway', () => {
    const stack = newBareStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    });
    const store = new CustomKeyStore(stack, 'Store', {
      cluster: CloudHsmCluster.fromClusterAttributes(stack, 'Cluster', { clusterId: 'cluster-2a3b4cdefgh' }),
      customKeyStoreName: 'payments-hsm',
      trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      kmsUserPassword: password(stack),
      handlerVpc: { vpc },
    });
    store.addKey('Internal', { classification: DataClassification.INTERNAL });
    expect(lambdaFailures(stack)).toEqual([]);
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(expectLibraryBucketsPassS3(failures, stack)).toHaveLength(2);
  });

  test('each replica stack of a MultiRegionKeySet, in a VPC of its Region', () => {
    const app = new App();
    const vpcs: Record<string, ec2.IVpc> = {};
    const stacks = ['eu-west-1', 'ap-southeast-2'].map(region => {
      const stack = new Stack(app, `Network-${region}`, { env: { account: ACCOUNT, region } });
      vpcs[region] = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
      return stack;
    });
    const set = new MultiRegionKeySet(app, 'Orders', {
      account: ACCOUNT,
      primaryRegion: 'us-east-1',
      replicaRegions: ['eu-west-1', 'ap-southeast-2'],
      classification: DataClassification.CONFIDENTIAL,
      viaServices: ['dynamodb'],
      stacks,
      regionOptions: { 'eu-west-1': { handlerVpc: { vpc: vpcs['eu-west-1'] } }, 'ap-southeast-2': { handlerVpc: { vpc: vpcs['ap-southeast-2'] } } },
    });
    const all = set.regions.map(region => set.stackIn(region));
    expect(lambdaFailures(...all)).toEqual([]);
    const failures = libraryFailures(...all);
    expect(failures).toEqual(documentedExceptions(...all));
    expect(expectLibraryBucketsPassS3(failures, ...all)).toEqual([
      'Network-ap-southeast-2/KeyAuditTrail/AccessLogsBucket/Resource',
      'Network-ap-southeast-2/KeyAuditTrail/Bucket/Resource',
    ]);
  });
});

describe('CloudHsmCluster', () => {
  test('a new cluster, its HSMs, its initialization and a client\'s access pass but the documented exceptions', () => {
    const stack = newBareStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      isolatedSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    });
    const certificateAuthority = acmpca.CertificateAuthority.fromCertificateAuthorityArn(stack, 'Ca',
      `arn:aws:acm-pca:${REGION}:${ACCOUNT}:certificate-authority/11111111-2222-3333-4444-555555555555`);
    const cluster = new CloudHsmCluster(stack, 'Cluster', { vpc, certificateAuthority });
    cluster.connections.allowDefaultPortFrom(ec2.Peer.ipv4('10.0.0.0/16'));
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(expectLibraryBucketsPassS3(failures, stack)).toHaveLength(2);
    expect(failures.filter(f => f.startsWith('CT.LAMBDA.PR.3')).map(f => f.split(' ')[1])).toEqual([
      'CloudHsmClusterInitialization/Handler', 'CloudHsmClusterInitialization/IsComplete',
      'CloudHsmClusterInitialization/Provider/framework-isComplete', 'CloudHsmClusterInitialization/Provider/framework-onEvent',
      'CloudHsmClusterInitialization/Provider/framework-onTimeout',
      'CloudHsmHsms/Handler', 'CloudHsmHsms/IsComplete', 'CloudHsmHsms/Provider/framework-isComplete',
      'CloudHsmHsms/Provider/framework-onEvent', 'CloudHsmHsms/Provider/framework-onTimeout',
    ].map(path => `TestStack/KmsConstructsCustomResources/${path}/Resource`));
  });
});

describe('KeyGrant', () => {
  test('its key fails CT.KMS.PR.3 alone, its handler only the documented function exception; a key without one passes', () => {
    const stack = newBareStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const other = new ClassifiedKey(stack, 'Other', { classification: DataClassification.CONFIDENTIAL, viaServices: ['s3'] });
    const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    new KeyGrant(stack, 'AuditGrant', {
      key, grantee: analyst, operations: [KeyGrantOperation.DECRYPT], encryptionContextSubset: { project: 'audit' }, expiresAfter: Duration.hours(8),
    });
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(failures.filter(f => f.startsWith('CT.KMS.'))).toEqual(['CT.KMS.PR.3 TestStack/Key/Resource']);
    expect(failures.some(f => f.includes(other.node.path))).toBe(false);
  });
});

describe('KeyComplianceEvidence', () => {
  test('its queries, Config rules and forwarding rule, role and policy have no failure', () => {
    const stack = newBareStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const evidence = new KeyComplianceEvidence(stack, 'Evidence', {
      forwardEventsTo: KeyEventsDestination.eventBus(events.EventBus.fromEventBusArn(stack, 'Siem', 'arn:aws:events:us-east-1:222222222222:event-bus/siem')),
    });
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    expect(failures.filter(f => f.includes(evidence.node.path))).toEqual([]);
  });
});

describe('the perimeter', () => {
  test('a management account\'s KeyGuardrails and a VPC\'s KmsInterfaceEndpoint have no failure', () => {
    const management = managementStackWithGuardrails();
    const member = newBareStack();
    new KmsInterfaceEndpoint(member, 'KmsEndpoint', { vpc: new ec2.Vpc(member, 'Vpc'), organizationId: 'o-a1b2c3d4e5' });
    expect(controlTowerFailures(management)).toEqual([]);
    expect(controlTowerFailures(member).filter(f => f.includes('/KmsEndpoint/'))).toEqual([]);
  });
});

describe('the example app', () => {
  test('the library\'s resources pass but the documented exceptions', () => {
    const app = new App();
    const stack = new PaymentsPlatform(app, 'PaymentsPlatform', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const failures = libraryFailures(stack);
    expect(failures).toEqual(documentedExceptions(stack));
    // The imported-material key's, the access-log bucket's two (CT.S3.PR.9 no longer),
    // and the KeyGrant's: its key's grant deny names the handler, and its functions
    // run outside a VPC (no handlerVpc in the example).
    expect(failures).toEqual([
      'CT.KMS.PR.1 PaymentsPlatform/PriceLists/Resource',
      'CT.KMS.PR.3 PaymentsPlatform/CustomerKey/Resource',
      'CT.LAMBDA.PR.3 PaymentsPlatform/KmsConstructsCustomResources/KeyGrant/Handler/Resource',
      'CT.LAMBDA.PR.3 PaymentsPlatform/KmsConstructsCustomResources/KeyGrant/Provider/framework-onEvent/Resource',
      'CT.S3.PR.10 PaymentsPlatform/KeyAuditTrail/AccessLogsBucket/Resource',
      'CT.S3.PR.2 PaymentsPlatform/KeyAuditTrail/AccessLogsBucket/Resource',
    ]);
    expect(expectLibraryBucketsPassS3(failures, stack)).toHaveLength(2);
  });
});

describe('the README', () => {
  test('names every documented exception in its compliance table', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const rows = readme.split('\n').filter(line => line.startsWith('| ') && line.includes('CT.'));
    for (const control of Object.values(EXCEPTIONS).flat()) {
      expect(rows.filter(row => row.includes(control) && /exception/i.test(row))).toHaveLength(1);
    }
    // The access-log bucket has Object Lock: CT.S3.PR.9 is no exception any more.
    expect(rows.filter(row => row.includes('CT.S3.PR.9 ') && /exception/i.test(row))).toEqual([]);
  });
});
