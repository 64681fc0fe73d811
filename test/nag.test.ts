import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ClassifiedKey, DataClassification } from '../src';
import { nagFindings } from './support/nag';
import { newStack } from './support/stack';

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
