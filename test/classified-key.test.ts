import { App, CfnElement, Duration, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { IConstruct } from 'constructs';
import { ClassifiedKey, DataClassification } from '../src';
import { asArray, auditTrailRoleIds, newStack, onlyResource, rolesOutsideAuditTrail, statementWithSid } from './support/stack';
import * as kmsActions from '../src/key/actions';

const ROTATION_DAYS: Record<DataClassification, number> = {
  [DataClassification.PUBLIC]: 365,
  [DataClassification.INTERNAL]: 365,
  [DataClassification.CONFIDENTIAL]: 180,
  [DataClassification.RESTRICTED]: 90,
};

/** The narrowing RESTRICTED keys need, so that each classification synthesizes. */
function minimalProps(classification: DataClassification) {
  return classification === DataClassification.RESTRICTED
    ? { classification, viaServices: ['s3'] }
    : { classification };
}

describe('classification defaults', () => {
  test.each(Object.values(DataClassification))('%s key: rotation, retention, tags and MFA', (classification) => {
    // GIVEN
    const stack = newStack();
    // WHEN
    new ClassifiedKey(stack, 'Key', minimalProps(classification));
    // THEN
    const template = Template.fromStack(stack);
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
        EnableKeyRotation: true,
        RotationPeriodInDays: ROTATION_DAYS[classification],
        PendingWindowInDays: 30,
        Tags: [{ Key: 'data-classification', Value: classification.toLowerCase() }],
      }),
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: `alias/${classification.toLowerCase()}/TestStack/Key`,
    });
    // Every taggable resource of the key carries the classification. The stack's
    // audit trail has a role of its own, its heartbeat's, which is no key's.
    expect(auditTrailRoleIds(template)).toEqual(['KeyAuditTrailHeartbeatRoleADBEBC96']);
    const keyRoles = rolesOutsideAuditTrail(template);
    expect(Object.keys(keyRoles)).toHaveLength(1);
    for (const role of Object.values(keyRoles)) {
      expect(role.Properties.Tags).toEqual([{ Key: 'data-classification', Value: classification.toLowerCase() }]);
    }
    const mfaRequired = classification === DataClassification.CONFIDENTIAL || classification === DataClassification.RESTRICTED;
    const adminRole = `${classification.charAt(0)}${classification.slice(1).toLowerCase()}KeyAdmins`;
    const [adminId] = Object.keys(keyRoles).filter(id => id.startsWith(adminRole));
    const adminTrust = template.toJSON().Resources[adminId].Properties.AssumeRolePolicyDocument.Statement[0];
    expect(adminTrust.Condition).toEqual(mfaRequired ? { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } : undefined);
  });

  test('owner and compliance scopes are tagged on the key and its user role; the shared admin role has the classification', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', {
      classification: DataClassification.CONFIDENTIAL,
      owner: 'payments-team',
      complianceScopes: ['pci-dss', 'sox'],
    });
    const userRole = key.userRole;
    const template = Template.fromStack(stack);
    const expected = [
      { Key: 'compliance-scope', Value: 'pci-dss sox' },
      { Key: 'data-classification', Value: 'confidential' },
      { Key: 'owner', Value: 'payments-team' },
    ];
    const resources = template.toJSON().Resources;
    const resourceOf = (construct: IConstruct) => resources[stack.getLogicalId(construct.node.defaultChild as CfnElement)];
    const own = [resourceOf(key), resourceOf(userRole)];
    for (const resource of own) expect(resource.Properties.Tags).toEqual(expected);
    // Keys of several owners may share it: it carries what they have in common.
    expect(resourceOf(key.adminRole).Properties.Tags)
      .toEqual([{ Key: 'data-classification', Value: 'confidential' }]);
  });

  test('removal policy DESTROY is an explicit opt-in', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', {
      classification: DataClassification.INTERNAL,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    Template.fromStack(stack).hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ PendingWindowInDays: 7 }),
    });
  });

  test('rotation can be turned off for INTERNAL keys only', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, enableKeyRotation: false });
    const key = onlyResource(Template.fromStack(stack), 'AWS::KMS::Key');
    expect(key.properties.EnableKeyRotation).toBe(false);
    expect(key.properties.RotationPeriodInDays).toBeUndefined();
  });

  test('a shorter rotation period than the classification ceiling is kept', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, rotationPeriod: Duration.days(120) });
    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', { RotationPeriodInDays: 120 });
  });
});

describe('separated roles', () => {
  let template: Template;
  beforeAll(() => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    key.userRole;
    template = Template.fromStack(stack);
  });

  test('shares the stack\'s admin role of the classification, makes a user role when asked for, with ids that are API', () => {
    expect(Object.keys(rolesOutsideAuditTrail(template)).sort()).toEqual([
      'ConfidentialKeyAdminsBFC5A83B',
      'KeyUserRole729B5767',
    ]);
    // The stack's audit trail adds its heartbeat's role, and no other.
    expect(auditTrailRoleIds(template)).toEqual(['KeyAuditTrailHeartbeatRoleADBEBC96']);
    expect(Object.keys(template.findResources('AWS::KMS::Key'))).toEqual(['Key961B73FD']);
    expect(Object.keys(template.findResources('AWS::KMS::Alias'))).toEqual(['KeyAlias910D852D']);
  });

  test('a key nobody asks the user role of has none, and no statement for it', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const bare = Template.fromStack(stack);
    expect(Object.keys(rolesOutsideAuditTrail(bare))).toEqual(['InternalKeyAdminsC6F2AEEA']);
    const sids = onlyResource(bare, 'AWS::KMS::Key').properties.KeyPolicy.Statement.map((s: any) => s.Sid);
    expect(sids).toEqual(['KeyAdministration', 'AccountReadsKeySettings', 'KeyPolicyChanges', 'DenyGrantsNotForAwsResources', 'DenyCryptographyToAdministrators']);
  });

  test('a user role first asked for after synthesis is an error, not a role missing from the template', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    Template.fromStack(stack);
    expect(() => key.userRole).toThrow(
      'userRole of TestStack/Key was first read after its key policy was rendered (the app is being or has been synthesized), so the role would be in neither the template nor the policy: read it before synthesis, or give userRoleAssumedBy',
    );
  });

  test('the keys of a stack share one admin role per classification and trust', () => {
    const stack = newStack();
    const a = new ClassifiedKey(stack, 'A', { classification: DataClassification.CONFIDENTIAL });
    const b = new ClassifiedKey(stack, 'B', { classification: DataClassification.CONFIDENTIAL });
    const c = new ClassifiedKey(stack, 'C', { classification: DataClassification.INTERNAL });
    const breakGlass = new iam.ArnPrincipal('arn:aws:iam::111111111111:role/BreakGlass');
    const d = new ClassifiedKey(stack, 'D', { classification: DataClassification.CONFIDENTIAL, adminRoleAssumedBy: breakGlass });
    const e = new ClassifiedKey(stack, 'E', { classification: DataClassification.CONFIDENTIAL, adminRoleAssumedBy: breakGlass });
    expect(b.adminRole).toBe(a.adminRole);
    expect(c.adminRole).not.toBe(a.adminRole);
    expect(d.adminRole).not.toBe(a.adminRole);
    expect(e.adminRole).toBe(d.adminRole);
    const roles = rolesOutsideAuditTrail(Template.fromStack(stack));
    expect(Object.keys(roles)).toHaveLength(3);
    const trustOf = (role: iam.IRole) =>
      roles[stack.getLogicalId(role.node.defaultChild as CfnElement)].Properties.AssumeRolePolicyDocument.Statement[0];
    expect(trustOf(d.adminRole).Principal).toEqual({ AWS: 'arn:aws:iam::111111111111:role/BreakGlass' });
    expect(trustOf(d.adminRole).Condition).toEqual({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } });
  });

  test('the admin role and the account root share the administration statement, which holds no cryptographic action', () => {
    const admin = statementWithSid(template, 'KeyAdministration');
    expect(admin.Principal).toEqual({
      AWS: ['arn:aws:iam::111111111111:role/TestStack-ConfidentialKeyAdmins-E50012CA-us-east-1', 'arn:aws:iam::111111111111:root'],
    });
    expect(asArray(admin.Action)).not.toContain('kms:PutKeyPolicy');
    for (const action of asArray<string>(admin.Action)) {
      expect(action).not.toMatch(/\*|Encrypt|Decrypt|GenerateDataKey|Sign|Verify|Mac|CreateGrant|Import/);
    }
  });

  test('the key policy may be changed by the admin role, and through the account by the deploy role and the root user only', () => {
    const changes = statementWithSid(template, 'KeyPolicyChanges');
    expect(changes.Action).toEqual('kms:PutKeyPolicy');
    expect(changes.Condition.ArnEquals['aws:PrincipalArn']).toEqual([
      'arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1',
      'arn:aws:iam::111111111111:root',
      'arn:aws:iam::111111111111:role/TestStack-ConfidentialKeyAdmins-E50012CA-us-east-1',
    ]);
  });

  test('the shared admin role is named, by its path and Region, and each key depends on it: KMS refuses a policy naming a role that does not exist yet', () => {
    const roles = template.findResources('AWS::IAM::Role');
    expect(roles.ConfidentialKeyAdminsBFC5A83B.Properties.RoleName).toBe('TestStack-ConfidentialKeyAdmins-E50012CA-us-east-1');
    expect(template.toJSON().Resources.Key961B73FD.DependsOn).toEqual(['ConfidentialKeyAdminsBFC5A83B']);
  });

  test('a stack of unknown environment names the account root and the deploy role with Fn::Sub', () => {
    const stack = new Stack(undefined, 'Agnostic');
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, monitoring: false });
    const changes = statementWithSid(Template.fromStack(stack), 'KeyPolicyChanges');
    expect(changes.Condition.ArnEquals['aws:PrincipalArn']).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/Agnostic-InternalKeyAdmins-C5F582B7-${AWS::Region}' },
    ]);
    // The admin role takes the Region it is deployed to in its name: IAM names are the account's.
    expect(Template.fromStack(stack).toJSON().Resources.InternalKeyAdminsC6F2AEEA.Properties.RoleName).toEqual({
      'Fn::Join': ['-', ['Agnostic-InternalKeyAdmins-C5F582B7', { Ref: 'AWS::Region' }]],
    });
  });

  test('the user statement holds only symmetric cryptography', () => {
    const usage = statementWithSid(template, 'KeyUsage');
    expect(usage.Principal).toEqual({ AWS: { 'Fn::GetAtt': ['KeyUserRole729B5767', 'Arn'] } });
    expect(asArray(usage.Action).sort()).toEqual([
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'kms:GenerateDataKeyPair',
      'kms:GenerateDataKeyPairWithoutPlaintext',
      'kms:GenerateDataKeyWithoutPlaintext',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
    ]);
  });

  test('grants may only be created for AWS resources', () => {
    const grants = statementWithSid(template, 'GrantsForAwsResources');
    expect(asArray(grants.Action).sort()).toEqual(['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant']);
    expect(grants.Condition).toEqual({ Bool: { 'kms:GrantIsForAWSResource': 'true' } });
  });

  test('no statement anywhere allows kms:CreateGrant without kms:GrantIsForAWSResource', () => {
    const key = onlyResource(template, 'AWS::KMS::Key');
    for (const statement of key.properties.KeyPolicy.Statement) {
      if (statement.Effect === 'Allow' && asArray(statement.Action).includes('kms:CreateGrant')) {
        expect(statement.Condition?.Bool?.['kms:GrantIsForAWSResource']).toBe('true');
      }
    }
  });

  test('adopted roles are used as given, and an adopted admin needs MFA in the key policy', () => {
    const stack = newStack();
    const adminRole = iam.Role.fromRoleArn(stack, 'Admin', 'arn:aws:iam::111111111111:role/KeyAdmins');
    const userRole = iam.Role.fromRoleArn(stack, 'User', 'arn:aws:iam::111111111111:role/App');
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, adminRole, userRole, viaServices: ['s3'] });
    const adopted = Template.fromStack(stack);
    // No role is made for the key: the only one is the audit trail's heartbeat role.
    expect(Object.keys(rolesOutsideAuditTrail(adopted))).toEqual([]);
    expect(auditTrailRoleIds(adopted)).toEqual(['KeyAuditTrailHeartbeatRoleADBEBC96']);
    const admin = statementWithSid(adopted, 'KeyAdministrationWithMfa');
    expect(admin.Principal).toEqual({ AWS: 'arn:aws:iam::111111111111:role/KeyAdmins' });
    expect(admin.Condition).toEqual({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } });
    expect(statementWithSid(adopted, 'DenyAdministrationWithoutMfa').Principal).toEqual({ AWS: 'arn:aws:iam::111111111111:role/KeyAdmins' });
    expect(statementWithSid(adopted, 'KeyAdministration').Principal).toEqual({ AWS: 'arn:aws:iam::111111111111:root' });
    expect(statementWithSid(adopted, 'KeyUsage').Principal).toEqual({ AWS: 'arn:aws:iam::111111111111:role/App' });
  });
});

describe('the explicit denies', () => {
  // The policy tests prove the denies hold; these prove their patterns name exactly
  // the actions they must among those KMS has, and never a user's or an admin's own.
  const expand = (patterns: string[]) => [...new Set(patterns.flatMap(p => kmsActions.expandAction(p)))].sort();

  test('administrators are denied every cryptographic action, and none of their own', () => {
    expect(expand(kmsActions.DENIED_TO_ADMINISTRATORS)).toEqual([...kmsActions.ALL_CRYPTOGRAPHIC].sort());
    for (const own of [...kmsActions.ADMIN, ...kmsActions.ADMIN_ROTATION, ...kmsActions.ADMIN_IMPORT]) {
      expect(expand(kmsActions.DENIED_TO_ADMINISTRATORS)).not.toContain(own);
    }
  });

  test('users are denied every administrative change (reading the key\'s settings stays), and none of their own actions', () => {
    expect(expand(kmsActions.DENIED_TO_USERS)).toEqual(kmsActions.ALL_ADMINISTRATIVE.filter(a => !/^kms:(GetKey|List)/.test(a)).sort());
    const own = [...kmsActions.ALL_CRYPTOGRAPHIC, ...kmsActions.GRANTS_FOR_AWS_RESOURCES, ...kmsActions.DESCRIBE, 'kms:GetPublicKey', 'kms:RetireGrant'];
    for (const action of own) expect(expand(kmsActions.DENIED_TO_USERS)).not.toContain(action);
  });
});

describe('usage-specific actions', () => {
  const cases: Array<{ name: string; keySpec: kms.KeySpec; keyUsage?: kms.KeyUsage; actions: string[] }> = [
    {
      name: 'RSA encryption',
      keySpec: kms.KeySpec.RSA_3072,
      keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT,
      actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GetPublicKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
    },
    {
      name: 'signing',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      actions: ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign', 'kms:Verify'],
    },
    {
      name: 'HMAC',
      keySpec: kms.KeySpec.HMAC_256,
      actions: ['kms:DescribeKey', 'kms:GenerateMac', 'kms:VerifyMac'],
    },
    {
      name: 'key agreement',
      keySpec: kms.KeySpec.ECC_NIST_P384,
      keyUsage: kms.KeyUsage.KEY_AGREEMENT,
      actions: ['kms:DeriveSharedSecret', 'kms:DescribeKey', 'kms:GetPublicKey'],
    },
  ];

  test.each(cases)('$name keys give users only their own actions and never rotate', ({ keySpec, keyUsage, actions }) => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, keySpec, keyUsage }).userRole;
    const template = Template.fromStack(stack);
    expect(asArray(statementWithSid(template, 'KeyUsage').Action).sort()).toEqual(actions);
    const key = onlyResource(template, 'AWS::KMS::Key');
    expect(key.properties.EnableKeyRotation).toBe(false);
    expect(key.properties.RotationPeriodInDays).toBeUndefined();
    expect(asArray(statementWithSid(template, 'KeyAdministration').Action)).not.toContain('kms:EnableKeyRotation');
  });

  const mismatches: Array<[string, kms.KeySpec, kms.KeyUsage | undefined, (k: ClassifiedKey, r: iam.IRole) => void]> = [
    ['grantSign on a symmetric key', kms.KeySpec.SYMMETRIC_DEFAULT, undefined, (k, r) => k.grantSign(r)],
    ['grantVerifyMac on a symmetric key', kms.KeySpec.SYMMETRIC_DEFAULT, undefined, (k, r) => k.grantVerifyMac(r)],
    ['grantEncrypt on an HMAC key', kms.KeySpec.HMAC_512, undefined, (k, r) => k.grantEncrypt(r)],
    ['grantDecrypt on a signing key', kms.KeySpec.RSA_2048, kms.KeyUsage.SIGN_VERIFY, (k, r) => k.grantDecrypt(r)],
    ['grantGenerateMac on an RSA encryption key', kms.KeySpec.RSA_4096, kms.KeyUsage.ENCRYPT_DECRYPT, (k, r) => k.grantGenerateMac(r)],
    ['grantDeriveSharedSecret on a signing key', kms.KeySpec.ECC_NIST_P256, kms.KeyUsage.SIGN_VERIFY, (k, r) => k.grantDeriveSharedSecret(r)],
  ];
  test.each(mismatches)('fails when %s', (_name, keySpec, keyUsage, call) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, keySpec, keyUsage });
    const role = new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => call(key, role)).toThrow(/is not available on a .* key \(keySpec /);
  });

  test('fails when grant asks for an action of another usage', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const role = new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => key.grant(role, 'kms:Sign')).toThrow(
      'grant got "kms:Sign", which a ENCRYPT_DECRYPT key (keySpec SYMMETRIC_DEFAULT) does not support',
    );
  });

  test('fails when grant asks for administration', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const role = new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => key.grant(role, 'kms:*')).toThrow(/grant must not give administrative actions, got "kms:\*" .*use grantAdmin/);
    expect(() => key.grant(role, 'kms:PutKeyPolicy')).toThrow(/grant must not give administrative actions/);
  });

  test('grant expands wildcards into explicit actions of the usage', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const role = new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    key.grant(role, 'kms:ReEncrypt*', 'kms:GenerateDataKey*');
    const statements = onlyResource(Template.fromStack(stack), 'AWS::KMS::Key').properties.KeyPolicy.Statement;
    const granted = statements.find((s: any) => JSON.stringify(s.Principal).includes('Consumer'));
    expect(asArray(granted.Action).sort()).toEqual([
      'kms:GenerateDataKey',
      'kms:GenerateDataKeyPair',
      'kms:GenerateDataKeyPairWithoutPlaintext',
      'kms:GenerateDataKeyWithoutPlaintext',
      'kms:ReEncryptFrom',
      'kms:ReEncryptTo',
    ]);
  });
});

describe('grants reach the key policy', () => {
  function grantedStatements(stack: Stack, roleId: string): any[] {
    const key = onlyResource(Template.fromStack(stack), 'AWS::KMS::Key');
    return key.properties.KeyPolicy.Statement.filter((s: any) =>
      JSON.stringify(s.Principal ?? {}).includes(`"${roleId}`));
  }

  test('grantDecrypt adds the grantee to the key policy, not only its identity policy', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDecrypt(role);
    const [statement] = grantedStatements(stack, 'Reader');
    expect(asArray(statement.Action).sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom']);
  });

  test('grantees with the same actions share one statement', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const a = new iam.Role(stack, 'A', { assumedBy: new iam.AccountRootPrincipal() });
    const b = new iam.Role(stack, 'B', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDecrypt(a);
    key.grantDecrypt(b);
    const statements = onlyResource(Template.fromStack(stack), 'AWS::KMS::Key').properties.KeyPolicy.Statement;
    const shared = statements.filter((s: any) => !s.Sid);
    expect(shared).toHaveLength(1);
    expect(asArray(shared[0].Principal.AWS)).toHaveLength(2);
  });

  test.each([
    ['bucket.grantRead', (key: ClassifiedKey, role: iam.IRole) => new s3.Bucket(key.stack, 'Bucket', { encryptionKey: key }).grantRead(role)],
    ['table.grantReadWriteData', (key: ClassifiedKey, role: iam.IRole) => new dynamodb.Table(key.stack, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
    }).grantReadWriteData(role)],
    ['queue.grantSendMessages', (key: ClassifiedKey, role: iam.IRole) => new sqs.Queue(key.stack, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
    }).grantSendMessages(role)],
  ])('%s puts the consumer role in the key policy', (_name, consume) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const role = new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    consume(key, role);
    expect(grantedStatements(stack, 'Consumer').length).toBeGreaterThan(0);
  });

  test('grantAdmin adds administration without cryptography', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const ops = new iam.Role(stack, 'Ops', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantAdmin(ops);
    const [statement] = grantedStatements(stack, 'Ops');
    expect(asArray(statement.Action)).toContain('kms:ScheduleKeyDeletion');
    expect(asArray(statement.Action)).not.toContain('kms:Decrypt');
  });

  test('a grantee in another account also gets an identity policy', () => {
    // A bare app: a stack with a declared KeyAuditTrail (newStack) and no key would fail synthesis, its heartbeat having no key to describe.
    const app = new App();
    const keyStack = new Stack(app, 'KeyStack', { env: { account: '111111111111', region: 'us-east-1' } });
    const otherStack = new Stack(app, 'Other', { env: { account: '222222222222', region: 'us-east-1' } });
    const key = new ClassifiedKey(keyStack, 'Key', { classification: DataClassification.INTERNAL });
    const role = new iam.Role(otherStack, 'Remote', {
      assumedBy: new iam.AccountRootPrincipal(),
      roleName: 'remote-reader',
    });
    key.grantDecrypt(role);
    Template.fromStack(otherStack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt']), Effect: 'Allow' })] },
    });
  });

  test('fails when the admin role is granted cryptography', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(() => key.grantDecrypt(key.adminRole)).toThrow(
      'grantDecrypt must not be given the admin role TestStack/InternalKeyAdmins: administrators manage the key and cannot use it',
    );
  });

  test('fails when the user role is granted administration', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(() => key.grantAdmin(key.userRole)).toThrow(
      'grantAdmin must not be given the user role TestStack/Key/UserRole: users of the key cannot administer it',
    );
  });

  test('fails when one principal is granted both use and administration', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const role = new iam.Role(stack, 'Both', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantEncrypt(role);
    expect(() => key.grantAdmin(role)).toThrow(/grantAdmin must not be given a principal that uses the key/);
  });

  test('fails when addToResourcePolicy gives the admin role cryptography', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(() => key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'Custom', principals: [key.adminRole], actions: ['kms:Decrypt'], resources: ['*'],
    }))).toThrow(/addToResourcePolicy must not give cryptographic actions to the admin role/);
  });

  test('fails when addToResourcePolicy gives the user role administration', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(() => key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'Custom',
      principals: [key.userRole],
      actions: ['kms:ScheduleKeyDeletion'],
      resources: ['*'],
      conditions: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
    }))).toThrow(/addToResourcePolicy must not give administrative actions to the user role TestStack\/Key\/UserRole/);
  });

  test('a plain grant given to addToResourcePolicy goes through the grant methods and their checks', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const plain = (principal: iam.IPrincipal, ...granted: string[]) =>
      key.addToResourcePolicy(new iam.PolicyStatement({ principals: [principal], actions: granted, resources: ['*'] }));
    expect(() => plain(key.adminRole, 'kms:Decrypt')).toThrow(/^grant must not be given the admin role TestStack\/InternalKeyAdmins/);
    expect(() => plain(key.userRole, 'kms:Put*')).toThrow(/^grantAdmin must not be given the user role TestStack\/Key\/UserRole/);
    expect(() => plain(key.userRole, 'kms:Sign')).toThrow(/^grant got "kms:Sign", which a ENCRYPT_DECRYPT key/);
    // As aws-cdk-lib's ECS cluster asks for its exec logging key: kms:* for the account.
    expect(() => plain(new iam.AccountRootPrincipal(), 'kms:*')).toThrow(
      /^addToResourcePolicy must not give one principal both administration and cryptography, got kms:\* for AccountRootPrincipal\(\)/);
    expect(plain(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }), 'kms:Decrypt').statementAdded).toBe(true);
  });

  test('fails when addToResourcePolicy gives a grantAdmin grantee cryptography', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const ops = new iam.Role(stack, 'Ops', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantAdmin(ops);
    expect(() => key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'Custom', principals: [ops], actions: ['kms:Decrypt'], resources: ['*'],
    }))).toThrow(/addToResourcePolicy must not give cryptographic actions to a principal that administers the key/);
  });

  test('grant honours IAM\'s ? wildcard', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const role = new iam.Role(stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    key.grant(role, 'kms:?ecrypt');
    const statements = onlyResource(Template.fromStack(stack), 'AWS::KMS::Key').properties.KeyPolicy.Statement;
    const granted = statements.find((s: any) => JSON.stringify(s.Principal).includes('Consumer'));
    expect(asArray(granted.Action)).toEqual(['kms:Decrypt']);
  });
});

describe('narrowing conditions', () => {
  test('viaServices and encryptionContextKeys condition every usage statement', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', {
      classification: DataClassification.RESTRICTED,
      viaServices: ['s3', 'dynamodb'],
      encryptionContextKeys: ['tenant'],
    });
    key.grantDecrypt(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
    key.userRole;
    const statements = onlyResource(Template.fromStack(stack), 'AWS::KMS::Key').properties.KeyPolicy.Statement;
    const usage = statements.filter((s: any) => s.Effect === 'Allow'
      && !['KeyPolicyChanges', 'KeyAdministration', 'AccountReadsKeySettings'].includes(s.Sid));
    expect(usage.length).toBeGreaterThanOrEqual(4);
    for (const statement of usage) {
      expect(statement.Condition.StringEquals['kms:ViaService']).toEqual(['s3.us-east-1.amazonaws.com', 'dynamodb.us-east-1.amazonaws.com']);
      expect(statement.Condition.StringEquals['kms:CallerAccount']).toBe('111111111111');
      const carriesContext = asArray<string>(statement.Action).some(a => /crypt|GenerateDataKey/.test(a));
      expect(statement.Condition.Null).toEqual(carriesContext ? { 'kms:EncryptionContext:tenant': 'false' } : undefined);
    }
  });

  test('organizationId denies principals outside the organization but not AWS services', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, organizationId: 'o-a1b2c3d4e5' });
    expect(statementWithSid(Template.fromStack(stack), 'DenyOutsideOrganization')).toEqual({
      Sid: 'DenyOutsideOrganization',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:*',
      Resource: '*',
      Condition: {
        StringNotEqualsIfExists: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' },
        BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' },
      },
    });
  });

  test('allowAccountRootCryptography lets IAM policies grant use of an INTERNAL key', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, allowAccountRootCryptography: true });
    expect(asArray(statementWithSid(Template.fromStack(stack), 'AccountRootUsage').Action)).toContain('kms:Decrypt');
  });
});

describe('imported key material', () => {
  test('makes an EXTERNAL key whose admins alone may import and delete material', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, importKeyMaterial: true });
    const template = Template.fromStack(stack);
    const key = onlyResource(template, 'AWS::KMS::Key');
    expect(key.properties.Origin).toBe('EXTERNAL');
    expect(key.properties.EnableKeyRotation).toBe(false);
    const importActions = ['kms:DeleteImportedKeyMaterial', 'kms:GetParametersForImport', 'kms:ImportKeyMaterial'];
    const importing = statementWithSid(template, 'KeyMaterialImport');
    expect(asArray(importing.Action).sort()).toEqual(importActions);
    expect(importing.Principal).toEqual({ AWS: 'arn:aws:iam::111111111111:role/TestStack-ConfidentialKeyAdmins-E50012CA-us-east-1' });
    for (const statement of key.properties.KeyPolicy.Statement.filter((s: any) => s.Effect === 'Allow' && s.Sid !== 'KeyMaterialImport')) {
      for (const action of importActions) expect(asArray(statement.Action)).not.toContain(action);
    }
  });
});

describe('aliases', () => {
  test('addAlias validates and adds an alias with an id derived from its name', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, alias: 'alias/payments' });
    const first = key.addAlias('alias/payments-legacy');
    expect(key.addAlias('alias/payments-legacy')).toBe(first);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Alias', 2);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/payments' });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/payments-legacy' });
    expect(() => key.addAlias('alias/aws/s3')).toThrow('aliasName must not start with the reserved prefix "alias/aws/", got "alias/aws/s3"');
  });

  test('a derived alias is sanitized and stays within 256 characters', () => {
    const stack = newStack();
    new ClassifiedKey(stack, `Key.v2 ${'K'.repeat(300)}`, { classification: DataClassification.PUBLIC });
    const name = onlyResource(Template.fromStack(stack), 'AWS::KMS::Alias').properties.AliasName;
    expect(name).toMatch(/^alias\/public\/TestStack\/Key-v2-K+$/);
    expect(name.length).toBe(256);
  });

  test('a key in a nested stack derives its alias from the nested stack\'s path, the same whatever else the app holds', () => {
    const aliasOf = (extraKeys: number) => {
      const stack = newStack('Parent');
      for (let i = 0; i < extraKeys; i++) new ClassifiedKey(stack, `Other${i}`, { classification: DataClassification.PUBLIC });
      const nested = new NestedStack(stack, 'Data');
      const deployRole = iam.Role.fromRoleName(nested, 'Deploy', 'cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1');
      new ClassifiedKey(nested, 'Key', { classification: DataClassification.PUBLIC, monitoring: false, deployRole });
      return onlyResource(Template.fromStack(nested), 'AWS::KMS::Alias').properties.AliasName;
    };
    // The nested stack's name is a deploy-time value, which once went into the alias as a token's text.
    expect(aliasOf(1)).toBe('alias/public/Parent-Data/Key');
    expect(aliasOf(4)).toBe(aliasOf(1));
  });
});

describe('the key is a drop-in kms.IKey', () => {
  test('keyRef, keyArn and keyId point at the key resource', () => {
    const stack = newStack();
    const key: kms.IKey = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(stack.resolve(key.keyArn)).toEqual({ 'Fn::GetAtt': ['Key961B73FD', 'Arn'] });
    expect(stack.resolve(key.keyId)).toEqual({ 'Fn::GetAtt': ['Key961B73FD', 'KeyId'] });
    expect(stack.resolve(key.keyRef.keyArn)).toEqual(stack.resolve(key.keyArn));
  });
});

describe('synthesis is deterministic', () => {
  test('two synths of the same app give identical templates', () => {
    const build = () => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', {
        classification: DataClassification.RESTRICTED,
        viaServices: ['s3', 'sqs'],
        encryptionContextKeys: ['tenant', 'app'],
        owner: 'team',
      });
      for (const id of ['C', 'A', 'B']) key.grantEncryptDecrypt(new iam.Role(stack, id, { assumedBy: new iam.AccountRootPrincipal() }));
      return JSON.stringify(Template.fromStack(stack).toJSON());
    };
    expect(build()).toEqual(build());
  });
});

