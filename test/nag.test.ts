import { App, Stack, Validations } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ClassifiedKey, CloudHsmCluster, CustomKeyStore, DataClassification, KeyComplianceEvidence, KeyEventsDestination, MultiRegionKeySet } from '../src';
import { nagFindings } from './support/nag';
import { managementStackWithGuardrails, newStack } from './support/stack';

describe('cdk-nag', () => {
  test.each(Object.values(DataClassification))('a %s key has no finding', (classification) => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
    expect(nagFindings(stack.node.root)).toEqual([]);
  });

  test.each([
    ['RSA encryption', kms.KeySpec.RSA_3072, kms.KeyUsage.ENCRYPT_DECRYPT],
    ['signing', kms.KeySpec.ECC_NIST_P256, kms.KeyUsage.SIGN_VERIFY],
    ['HMAC', kms.KeySpec.HMAC_256, undefined],
    ['key agreement', kms.KeySpec.ECC_NIST_P384, kms.KeyUsage.KEY_AGREEMENT],
  ])('a %s key has no finding', (_name, keySpec, keyUsage) => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, keySpec, keyUsage });
    expect(nagFindings(stack.node.root)).toEqual([]);
  });

  test('a key with imported material has no finding', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, importKeyMaterial: true });
    expect(nagFindings(stack.node.root)).toEqual([]);
  });
});

describe('cdk-nag on a key with every option and its consumers', () => {
  test('the construct\'s own resources have no finding', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', {
      classification: DataClassification.RESTRICTED,
      viaServices: ['s3', 'sqs'],
      encryptionContextKeys: ['tenant'],
      organizationId: 'o-a1b2c3d4e5',
      owner: 'platform',
      complianceScopes: ['pci-dss'],
    });
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDecrypt(reader);
    key.grantAdmin(new iam.Role(stack, 'Ops', { assumedBy: new iam.AccountRootPrincipal() }));
    key.addAlias('alias/restricted/extra');
    const own = nagFindings(stack.node.root).filter(finding => finding.includes(' TestStack/Key/'));
    expect(own).toEqual([]);
  });

  test('the rotation findings of imported material are acknowledged with a reason', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, importKeyMaterial: true });
    // Acknowledgements are recorded as `annotation::<rule>` -> reason.
    const acknowledged: Record<string, string> = Object.assign({}, ...key.node.defaultChild!.node.metadata
      .filter(entry => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .map(entry => entry.data));
    expect(Object.keys(acknowledged).sort()).toEqual([
      'annotation::AwsSolutions-KMS5',
      'annotation::NIST.800.53.R5-KMSBackingKeyRotationEnabled',
      'annotation::PCI.DSS.321-KMSBackingKeyRotationEnabled',
    ]);
    for (const reason of Object.values(acknowledged)) expect(reason).toMatch(/cannot rotate imported key material/);
  });
});

describe('cdk-nag on a multi-Region key set', () => {
  test.each(Object.values(DataClassification))('every stack of a %s set, with a global table, has no finding', (classification) => {
    const app = new App();
    const set = new MultiRegionKeySet(app, 'Orders', {
      account: '111111111111',
      primaryRegion: 'us-east-1',
      replicaRegions: ['eu-west-1', 'ap-southeast-2'],
      classification,
      viaServices: ['dynamodb'],
      allowPrimaryRegionUpdate: true,
    });
    new dynamodb.TableV2(new Stack(app, 'Tables', { env: { account: '111111111111', region: 'us-east-1' } }), 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      replicas: [{ region: 'eu-west-1' }],
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(set.primaryKey, { 'eu-west-1': set.keyArnForRegion('eu-west-1') }),
    });
    const findings = nagFindings(app).filter(finding => !finding.includes('/Table/'));
    expect(findings).toEqual([]);
  });

  test('what the lookup\'s functions and policies do not need is acknowledged with a reason, rule by rule', () => {
    const app = new App();
    const set = new MultiRegionKeySet(app, 'Orders', {
      account: '111111111111', primaryRegion: 'us-east-1', replicaRegions: ['eu-west-1'], classification: DataClassification.INTERNAL,
    });
    const acknowledged = (path: string) => {
      const construct = set.stackIn('eu-west-1').node.findChild('KmsConstructsCustomResources').node.findChild('PrimaryKeyLookup').node.findChild(path);
      return Object.keys(Object.assign({}, ...construct.node.metadata
        .filter(entry => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map(entry => entry.data)))
        .map(id => id.replace(/^annotation::/, '')).sort();
    };
    const functionRules = ['LambdaConcurrency', 'LambdaDLQ', 'LambdaInsideVPC']
      .flatMap(rule => ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'].map(pack => `${pack}-${rule}`)).sort();
    expect(acknowledged('Handler')).toEqual(functionRules);
    expect(acknowledged('HandlerPolicy')).toEqual([
      'AwsSolutions-IAM5[Resource::arn:aws:cloudformation:us-east-1:111111111111:stack/Orders-us-east-1/*]',
      'AwsSolutions-IAM5[Resource::arn:aws:kms:us-east-1:111111111111:key/*]',
    ]);
    expect(acknowledged('FrameworkPolicy')).toEqual([expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<KmsConstructsCustomResourcesPrimaryKeyLookupHandler[0-9A-F]{8}\.Arn>:\*\]$/)]);
  });
});

describe('cdk-nag on a custom key store and its keys', () => {
  test('the store, its keys, their handlers, roles, Provider frameworks and waiter have no finding', () => {
    const app = new App();
    const stack = new Stack(app, 'Hsm', { env: { account: '111111111111', region: 'us-east-1' } });
    const store = new CustomKeyStore(stack, 'Store', {
      cluster: CloudHsmCluster.fromClusterAttributes(stack, 'Cluster', { clusterId: 'cluster-2a3b4cdefgh' }),
      customKeyStoreName: 'payments-hsm',
      trustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, 'Password', 'kmsuser-password'),
    });
    for (const classification of Object.values(DataClassification)) {
      store.addKey(classification, { classification, viaServices: ['s3'] });
    }
    expect(nagFindings(app)).toEqual([]);
  });
});

describe('cdk-nag on a new CloudHSM cluster', () => {
  test('the cluster, its HSMs, its initialization, their handlers, roles, Provider frameworks and waiters have no finding', () => {
    const app = new App();
    const stack = new Stack(app, 'Cluster', { env: { account: '111111111111', region: 'us-east-1' } });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      isolatedSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    });
    const certificateAuthority = acmpca.CertificateAuthority.fromCertificateAuthorityArn(stack, 'Ca',
      'arn:aws:acm-pca:us-east-1:111111111111:certificate-authority/11111111-2222-3333-4444-555555555555');
    const cluster = new CloudHsmCluster(stack, 'Cluster', { vpc, certificateAuthority, activated: true, hsmsPerCluster: 3 });
    const store = new CustomKeyStore(stack, 'Store', {
      cluster,
      customKeyStoreName: 'payments-hsm',
      trustAnchorCertificate: cluster.trustAnchorCertificate!,
      kmsUserPassword: secretsmanager.Secret.fromSecretNameV2(stack, 'Password', 'kmsuser-password'),
    });
    store.addKey('Restricted', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] });
    expect(nagFindings(app)).toEqual([]);
  });
});


describe('cdk-nag on the organization guardrails', () => {
  test('a management account\'s KeyGuardrails has no finding', () => {
    expect(nagFindings(managementStackWithGuardrails().node.root)).toEqual([]);
  });
});

describe('cdk-nag on the compliance evidence', () => {
  test('saved queries, Config rules and the forwarding rule with its role have no finding', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] });
    new KeyComplianceEvidence(stack, 'Evidence', {
      forwardEventsTo: KeyEventsDestination.eventBus(events.EventBus.fromEventBusArn(stack, 'Siem', 'arn:aws:events:us-east-1:222222222222:event-bus/siem')),
    });
    expect(nagFindings(stack.node.root)).toEqual([]);
  });
});
