/*
 * The example app: a payments platform whose keys are all ClassifiedKeys, used by the
 * usual AWS consumers. `npx projen example` synthesizes it with the pinned CDK CLI
 * into cdk.out/ and prints what each key is (example/summary.ts). No AWS account or
 * credentials are needed. In your own app, import from 'cdk-kms-constructs'.
 */
import { writeFileSync } from 'fs';
import { join } from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { PaymentsPlatform } from './platform';
import { CloudHsmCluster, CustomKeyStore, DataClassification, KeyGuardrails, MultiRegionKeySet } from '../src';

/** The file, next to the assembly, where the app records cdk-nag's findings. */
export const NAG_REPORT = 'nag-findings.json';

const app = new App();
new PaymentsPlatform(app, 'PaymentsPlatform', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION ?? 'eu-west-1' },
});

// Orders are taken in Europe and the US: one CONFIDENTIAL key in both Regions, and a
// DynamoDB global table encrypted by it in each. A set is never cross-account, so it
// names its account (an example one when none is configured).
const orderKeys = new MultiRegionKeySet(app, 'GlobalOrders', {
  account: process.env.CDK_DEFAULT_ACCOUNT ?? '111111111111',
  primaryRegion: 'eu-west-1',
  replicaRegions: ['us-east-1'],
  classification: DataClassification.CONFIDENTIAL,
  viaServices: ['dynamodb'],
  alias: 'alias/payments/global-orders',
  owner: 'payments-team',
  allowPrimaryRegionUpdate: true,
});
// The table in a stack of its own, deployed after the keys of both Regions.
const orderTables = new Stack(app, 'GlobalOrderTables', { env: { account: orderKeys.account, region: 'eu-west-1' } });
new dynamodb.TableV2(orderTables, 'Orders', {
  partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
  replicas: [{ region: 'us-east-1' }],
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  deletionProtection: true,
  encryption: dynamodb.TableEncryptionV2.customerManagedKey(orderKeys.primaryKey, {
    'us-east-1': orderKeys.keyArnForRegion('us-east-1'),
  }),
});

// Card numbers are tokenized with a RESTRICTED key whose material never leaves the
// bank's own HSMs: a CloudHSM cluster in two zones of its HSM network, initialized by its root CA
// in ACM Private CA (an example ARN), and a custom key store on it. This is the
// second deployment of the README's ceremony: the cluster was activated and kmsuser
// created, so `activated` lets the cluster have all its HSMs.
const vault = new Stack(app, 'CardVault', { env: { account: orderKeys.account, region: 'eu-west-1' } });
// The bank's HSM network (example IDs): isolated subnets in two zones.
const vpc = ec2.Vpc.fromVpcAttributes(vault, 'HsmVpc', {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  isolatedSubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
});
const cluster = new CloudHsmCluster(vault, 'Cluster', {
  vpc,
  certificateAuthority: acmpca.CertificateAuthority.fromCertificateAuthorityArn(vault, 'RootCa',
    `arn:aws:acm-pca:eu-west-1:${orderKeys.account}:certificate-authority/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0`),
  hsmsPerCluster: 2,
  activated: true,
});
const store = new CustomKeyStore(vault, 'HsmKeyStore', {
  cluster,
  customKeyStoreName: 'card-vault',
  trustAnchorCertificate: cluster.trustAnchorCertificate!,
  kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(vault, 'KmsUserPassword', 'card-vault/kmsuser'),
});
const cardKey = store.addKey('CardTokens', {
  classification: DataClassification.RESTRICTED,
  viaServices: ['dynamodb'],
  alias: 'alias/payments/card-tokens',
  owner: 'payments-team',
  complianceScopes: ['pci-dss'],
});
new dynamodb.Table(vault, 'Tokens', {
  partitionKey: { name: 'token', type: dynamodb.AttributeType.STRING },
  encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
  encryptionKey: cardKey,
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
});

// The organization's guardrails, from its management account (an example one): an SCP
// and an RCP for every key of the payments OU (README, "Perimeter"). The pipelines
// deploy with CDK's bootstrap roles; a break-glass role repairs a key by hand.
const management = new Stack(app, 'Management', { env: { account: '999999999999', region: 'us-east-1' } });
new KeyGuardrails(management, 'KeyGuardrails', {
  organizationId: 'o-a1b2c3d4e5',
  pipelineRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*'],
  deployRoles: ['arn:aws:iam::*:role/cdk-hnb659fds-deploy-role-*'],
  breakGlassRoles: ['arn:aws:iam::*:role/KeyBreakGlass'],
  targetIds: ['ou-ab12-cdef3456'],
  trustedNetworks: { vpcIds: ['vpc-0a1b2c3d4e5f60718'] },
});

const packs = [new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app), new PCIDSS321Checks(app)];
const assembly = app.synth();
const findings = packs.flatMap(pack => pack.validateScope(app).violations.flatMap(violation =>
  violation.violatingResources.map(resource => ({
    pack: pack.readPackName,
    rule: violation.ruleName,
    path: resource.constructPath ?? resource.resourceLogicalId,
  }))));
writeFileSync(join(assembly.directory, NAG_REPORT), JSON.stringify({ packs: packs.map(p => p.readPackName), findings }, null, 2));
