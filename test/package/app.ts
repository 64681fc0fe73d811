/*
 * A user's app, as `npx projen test:package` runs it: compiled against the packed
 * library installed from its tarball. It declares every construct of the library with
 * the consumers users hand keys to, synthesizes, and fails unless:
 *
 * - the library calls no deprecated API of aws-cdk-lib: no deprecation warning that
 *   aws-cdk-lib prints (jsii's, on stderr) has the library as the caller of the
 *   deprecated API, and no construct of the library carries a deprecation annotation;
 * - nothing needs an AWS lookup (context) or an account's credentials;
 * - no construct has an error;
 * - every Node.js function runs on the newest Node.js runtime this aws-cdk-lib knows;
 * - cdk-nag's four packs find nothing on the library's resources (the app's own
 *   consumers, under the `Consumers` scopes, are not the library's);
 * - the key inventory is in the cloud assembly, with an access report for every key
 *   (it is written through aws-cdk-lib's attachCustomSynthesis, checked here with the
 *   newest aws-cdk-lib too).
 *
 * It prints one JSON line for the runner (test/package/check.ts). Here the library is
 * imported from '../../src'; the runner imports it from 'cdk-kms-constructs'.
 */
import { existsSync, readFileSync } from 'fs';
import { dirname, join } from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
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
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { Construct } from 'constructs';
import {
  ClassifiedKey, CloudHsmCluster, CustomKeyStore, DataClassification, KeyAuditTrail, KeyComplianceEvidence, KeyEventsDestination,
  KeyGrant, KeyGrantOperation, MultiRegionKeySet,
} from '../../src';

// aws-cdk-lib prints `[WARNING] <api> is deprecated...` when a deprecated API is called
// or given; who called it is the first frame outside aws-cdk-lib below the printer.
// aws-cdk-lib's own calls of its deprecated APIs are not the library's doing. Newer
// aws-cdk-lib print each API once, so the library's call of an API that aws-cdk-lib
// itself called first goes unseen here.
const library = dirname(require.resolve('../../src'));
const deprecations: { message: string; caller: string }[] = [];
const warn = console.warn;
Error.stackTraceLimit = 200;
console.warn = (...args: unknown[]) => {
  const message = args.map(String).join(' ');
  if (!/ is deprecated\b/.test(message)) return warn(...args);
  const frames = (new Error().stack ?? '').split('\n').slice(1).map(line => /\(?([^()\s]+):\d+:\d+\)?$/.exec(line.trim())?.[1] ?? '');
  const printer = frames.findIndex(frame => frame.includes('/aws-cdk-lib/'));
  const caller = frames.slice(printer).find(frame => frame && !frame.includes('/aws-cdk-lib/') && !frame.startsWith('node:')) ?? '?';
  deprecations.push({ message: message.split('\n')[0], caller });
};

const account = '111111111111';
const app = new App();

// ClassifiedKey and KeyAuditTrail, with the consumers of the README's examples.
const keys = new Stack(app, 'Keys', { env: { account, region: 'eu-west-1' } });
new KeyAuditTrail(keys, 'KeyAuditTrail', { alarmEmails: ['secops@example.com'] });
const consumers = new Construct(keys, 'Consumers');
const records = new ClassifiedKey(keys, 'Records', {
  classification: DataClassification.RESTRICTED,
  viaServices: ['dynamodb', 's3', 'secretsmanager'],
  owner: 'payments-team',
  complianceScopes: ['pci-dss'],
});
const reader = new iam.Role(consumers, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
new s3.Bucket(consumers, 'Statements', { encryptionKey: records, enforceSSL: true }).grantRead(reader);
new dynamodb.Table(consumers, 'Table', {
  partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
  encryptionKey: records,
}).grantReadData(reader);
new secretsmanager.Secret(consumers, 'Secret', { encryptionKey: records }).grantRead(reader);
const logKey = new ClassifiedKey(keys, 'Logs', { classification: DataClassification.CONFIDENTIAL });
new logs.LogGroup(consumers, 'LogGroup', { logGroupName: '/package-test/logs', encryptionKey: logKey });
new ClassifiedKey(keys, 'Signing', {
  classification: DataClassification.INTERNAL,
  keySpec: kms.KeySpec.ECC_NIST_P256,
  keyUsage: kms.KeyUsage.SIGN_VERIFY,
}).grantSign(reader);

// A KeyGrant for a day, and the stack's compliance evidence with SIEM forwarding.
new KeyGrant(keys, 'AuditGrant', {
  key: logKey,
  grantee: reader,
  operations: [KeyGrantOperation.DECRYPT],
  encryptionContextSubset: { 'aws:logs:arn': `arn:aws:logs:eu-west-1:${account}:log-group:/package-test/logs` },
  expiresAfter: Duration.days(1),
});
new KeyComplianceEvidence(keys, 'Evidence', {
  forwardEventsTo: KeyEventsDestination.eventBus(events.EventBus.fromEventBusArn(consumers, 'Siem', 'arn:aws:events:eu-west-1:222222222222:event-bus/siem')),
});

// MultiRegionKeySet, with a global table in a stack of its own.
const orders = new MultiRegionKeySet(app, 'Orders', {
  account,
  primaryRegion: 'us-east-1',
  replicaRegions: ['eu-west-1'],
  classification: DataClassification.CONFIDENTIAL,
  viaServices: ['dynamodb'],
  alias: 'alias/orders',
});
const tables = new Stack(app, 'OrderTables', { env: { account, region: 'us-east-1' } });
new dynamodb.TableV2(new Construct(tables, 'Consumers'), 'Orders', {
  partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
  replicas: [{ region: 'eu-west-1' }],
  encryption: dynamodb.TableEncryptionV2.customerManagedKey(orders.primaryKey, {
    'eu-west-1': orders.keyArnForRegion('eu-west-1'),
  }),
});

// A new CloudHsmCluster initialized by a root CA, a CustomKeyStore on it and an HSM key,
// their functions in the cluster's VPC (handlerVpc), whose endpoints the app already has.
const vault = new Stack(app, 'Vault', { env: { account, region: 'eu-west-1' } });
const vaultConsumers = new Construct(vault, 'Consumers');
const vaultVpc = ec2.Vpc.fromVpcAttributes(vaultConsumers, 'Vpc', {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  isolatedSubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
});
const cluster = new CloudHsmCluster(vault, 'Cluster', {
  vpc: vaultVpc,
  handlerVpc: { vpc: vaultVpc },
  certificateAuthority: acmpca.CertificateAuthority.fromCertificateAuthorityArn(vaultConsumers, 'RootCa',
    `arn:aws:acm-pca:eu-west-1:${account}:certificate-authority/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0`),
  activated: true,
});
const store = new CustomKeyStore(vault, 'Store', {
  cluster,
  customKeyStoreName: 'card-vault',
  trustAnchorCertificate: cluster.trustAnchorCertificate!,
  kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(vaultConsumers, 'KmsUser', 'card-vault/kmsuser'),
  handlerVpc: { vpc: vaultVpc },
});
new dynamodb.Table(vaultConsumers, 'Tokens', {
  partitionKey: { name: 'token', type: dynamodb.AttributeType.STRING },
  encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
  encryptionKey: store.addKey('CardTokens', { classification: DataClassification.RESTRICTED, viaServices: ['dynamodb'] }),
});

// A CustomKeyStore on an adopted cluster.
const adopted = new Stack(app, 'AdoptedVault', { env: { account, region: 'eu-west-1' } });
new CustomKeyStore(adopted, 'Store', {
  cluster: CloudHsmCluster.fromClusterAttributes(adopted, 'Cluster', { clusterId: 'cluster-jxhlf7644ne' }),
  customKeyStoreName: 'adopted-vault',
  trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIDUzCCAjugAwIBAgIU\n-----END CERTIFICATE-----',
  kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(adopted, 'KmsUser', 'adopted-vault/kmsuser'),
}).addKey('Key', { classification: DataClassification.CONFIDENTIAL });

const assembly = app.synth();
const problems: string[] = [];

const consumer = (path: string) => path.split('/').includes('Consumers');
for (const { message, caller } of deprecations) {
  if (caller.startsWith(library)) problems.push(`the library calls a deprecated API, from ${caller}: ${message}`);
}
for (const missing of assembly.manifest.missing ?? []) problems.push(`needs an AWS lookup at synth: ${missing.key}`);
for (const stack of assembly.stacks) {
  for (const message of stack.messages) {
    const text = String(message.entry.data);
    if (message.level === 'error' || (/deprecated/i.test(text) && !consumer(message.id))) problems.push(`${message.id}: ${message.level}: ${text}`);
  }
}

// The key inventory, written at synthesis beside the templates, with every key's access report.
const inventoryFile = join(assembly.directory, 'kms-key-inventory.json');
const inventory = existsSync(inventoryFile) ? JSON.parse(readFileSync(inventoryFile, 'utf8')) : { keys: [] };
if (!existsSync(join(assembly.directory, 'kms-key-inventory.md'))) problems.push('no kms-key-inventory.md in the cloud assembly');
if (inventory.keys.length < 8) problems.push(`the key inventory lists ${inventory.keys.length} keys, expected every key of the app`);
for (const key of inventory.keys) {
  if (key.accessError || key.access.length === 0) problems.push(`the inventory has no access report for ${key.path}: ${key.accessError}`);
}

// The newest Node.js runtime this aws-cdk-lib knows, as cdk-nag's AwsSolutions-L1 reads it.
const nodeVersion = (name: string) => Number(/^nodejs(\d+)\.x$/.exec(name)?.[1] ?? NaN);
const newestNode = lambda.Runtime.ALL.map(runtime => runtime.name).filter(name => nodeVersion(name) > 0)
  .reduce((newest, name) => (nodeVersion(name) > nodeVersion(newest) ? name : newest));
let functions = 0;
let resources = 0;
for (const stack of assembly.stacks) {
  for (const [logicalId, resource] of Object.entries<any>(stack.template.Resources ?? {})) {
    resources++;
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    functions++;
    if (stack.stackName === 'Vault' && !resource.Properties.VpcConfig?.SubnetIds?.length) {
      problems.push(`Vault/${logicalId} is not in the VPC its constructs' handlerVpc names`);
    }
    // Other families (aws-cdk-lib's own Python handlers) are left to cdk-nag's AwsSolutions-L1.
    if (String(resource.Properties.Runtime).startsWith('nodejs') && resource.Properties.Runtime !== newestNode) {
      problems.push(`${stack.stackName}/${logicalId} runs on ${resource.Properties.Runtime}, not ${newestNode}`);
    }
  }
}

const packs = [new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app), new PCIDSS321Checks(app)];
for (const pack of packs) {
  for (const violation of pack.validateScope(app).violations) {
    for (const resource of violation.violatingResources) {
      const path = resource.constructPath ?? resource.resourceLogicalId ?? '?';
      if (!consumer(path)) problems.push(`cdk-nag ${violation.ruleName} on ${path}`);
    }
  }
}

console.log(JSON.stringify({
  stacks: assembly.stacks.length,
  resources,
  functions,
  runtime: newestNode,
  nagPacks: packs.map(pack => pack.readPackName),
  inventoriedKeys: inventory.keys.length,
  // Deprecated APIs called by others (aws-cdk-lib itself, this app's consumers).
  othersDeprecations: Array.from(new Set(deprecations.filter(d => !d.caller.startsWith(library)).map(d => d.message))),
  problems,
}));
