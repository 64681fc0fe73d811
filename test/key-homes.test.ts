/*
 * A ClassifiedKey's home is the one seam between the key and its backing resource:
 * a standard key, a multi-Region primary or a replica gets the same policy model,
 * grants, alias, tags, consumer discovery and alarms. Proven here on the rendered
 * templates and by evaluating the replica's policy.
 */
import { CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ClassifiedKey, ClassifiedKeyProps, DataClassification } from '../src';
import { PolicySimulator } from './support/policy-sim';
import { ACCOUNT, newStack, REGION } from './support/stack';
import { KEY_HOME, KeyHome } from '../src/key/key-home';
import { multiRegionPrimaryHome, replicaHome } from '../src/multi-region/multi-region-homes';

const PRIMARY_ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab`;
const DEPLOY_ROLE = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`;

function keyIn(home: KeyHome, props: Partial<ClassifiedKeyProps> = {}, extra?: (stack: Stack, key: ClassifiedKey) => void, admin?: 'adopted') {
  const stack = newStack();
  const key = new ClassifiedKey(stack, 'Key', {
    classification: DataClassification.CONFIDENTIAL,
    ...(admin ? { adminRole: iam.Role.fromRoleArn(stack, 'Operators', `arn:aws:iam::${ACCOUNT}:role/KeyOperators`) } : {}),
    ...props,
    [KEY_HOME]: home,
  } as ClassifiedKeyProps);
  extra?.(stack, key);
  const template = Template.fromStack(stack).toJSON();
  const id = stack.getLogicalId(key.node.defaultChild as CfnElement);
  return { stack, key, template, resource: template.Resources[id], id };
}

const sids = (resource: any) => resource.Properties.KeyPolicy.Statement.map((s: any) => s.Sid ?? '(grant)');

describe('a multi-Region primary', () => {
  test('is a key with MultiRegion, and the same policy and alarms as a standard key', () => {
    const standard = keyIn(multiRegionPrimaryHome([]));
    expect(standard.resource.Type).toBe('AWS::KMS::Key');
    expect(standard.resource.Properties).toMatchObject({ MultiRegion: true, EnableKeyRotation: true, RotationPeriodInDays: 180 });
    expect(sids(standard.resource)).toEqual(['KeyAdministration', 'AccountReadsKeySettings', 'KeyPolicyChanges', 'DenyGrantsNotForAwsResources', 'DenyCryptographyToAdministrators']);
    // The stack's first key is its watch's heartbeat key (newStack() has no audit key): its own changes alarm
    // stands for the shared three, which leave it out.
    expect(standard.key.alarms.map(a => a.node.id)).toEqual(['HeartbeatKeyChangesAlarm', 'DeniedRequestsAlarm']);
  });
});

describe('a replica', () => {
  const home = replicaHome(PRIMARY_ARN);

  test('is an AWS::KMS::ReplicaKey of the primary, with the policy model, alias, tags and alarms of any key', () => {
    const { resource, key, template, id } = keyIn(home, { owner: 'payments-team', pendingWindow: Duration.days(7) });
    expect(resource.Type).toBe('AWS::KMS::ReplicaKey');
    expect(resource.DeletionPolicy).toBe('Retain');
    expect(resource.Properties).toMatchObject({
      PrimaryKeyArn: PRIMARY_ARN,
      PendingWindowInDays: 7,
      Description: 'CONFIDENTIAL key TestStack/Key, managed by cdk-kms-constructs',
      Tags: [{ Key: 'data-classification', Value: 'confidential' }, { Key: 'owner', Value: 'payments-team' }],
    });
    // Spec, usage, origin and rotation are the primary's: a replica has no such property.
    for (const property of ['KeySpec', 'KeyUsage', 'Origin', 'EnableKeyRotation', 'RotationPeriodInDays', 'MultiRegion']) {
      expect(resource.Properties).not.toHaveProperty(property);
    }
    expect(sids(resource)).toEqual(['KeyAdministration', 'AccountReadsKeySettings', 'KeyPolicyChanges', 'DenyGrantsNotForAwsResources', 'DenyCryptographyToAdministrators']);
    const alias = Object.values<any>(template.Resources).find(r => r.Type === 'AWS::KMS::Alias');
    expect(alias.Properties).toEqual({ AliasName: 'alias/confidential/TestStack/Key', TargetKeyId: { 'Fn::GetAtt': [id, 'Arn'] } });
    // The replica is its stack's first key, so its watch's heartbeat key.
    expect(key.alarms.map(a => a.node.id)).toEqual(['HeartbeatKeyChangesAlarm', 'DeniedRequestsAlarm']);
  });

  test('its administrators manage rotation on the primary, not here', () => {
    const { resource } = keyIn(home);
    const administration = resource.Properties.KeyPolicy.Statement.find((s: any) => s.Sid === 'KeyAdministration');
    expect(administration.Action).not.toEqual(expect.arrayContaining(['kms:EnableKeyRotation']));
    expect(administration.Action).not.toEqual(expect.arrayContaining(['kms:DisableKeyRotation']));
    expect(administration.Action).toContain('kms:ScheduleKeyDeletion');
  });

  test.each([
    ['enableKeyRotation', { enableKeyRotation: true }, 'enableKeyRotation is set on the primary of a multi-Region key, whose replicas follow its rotation, got true for a replica'],
    ['rotationPeriod', { rotationPeriod: Duration.days(90) }, 'rotationPeriod is set on the primary of a multi-Region key, whose replicas follow its rotation, got Duration.days(90) for a replica'],
  ])('%s on a replica is an error, not ignored', (_name, props, message) => {
    expect(() => keyIn(home, props)).toThrow(message);
  });

  test('grants and consumers reach its policy, and its separation holds, by policy evaluation', async () => {
    const { stack, key, id } = keyIn(home, {}, (s, k) => {
      k.grantDecrypt(new iam.Role(s, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
      new dynamodb.Table(s, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: k,
      });
    });
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(id);
    const reader = sim.roleArn(stack.getLogicalId(stack.node.findChild('Reader').node.defaultChild as CfnElement));
    const admin = sim.roleArn(stack.getLogicalId(key.adminRole.node.defaultChild as CfnElement));
    const mfa = { 'aws:MultiFactorAuthPresent': 'true' };
    expect(await sim.simulate({ principalArn: reader, action: 'kms:Decrypt', resourceArn: keyArn })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: reader, action: 'kms:ScheduleKeyDeletion', resourceArn: keyArn })).not.toBe('Allowed');
    expect(await sim.simulate({ principalArn: admin, action: 'kms:ScheduleKeyDeletion', resourceArn: keyArn, context: mfa })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: admin, action: 'kms:Decrypt', resourceArn: keyArn, context: mfa })).not.toBe('Allowed');
    // The deploy role creates the table through DynamoDB only.
    const viaDynamoDb = { 'kms:ViaService': `dynamodb.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT };
    expect(await sim.simulate({ principalArn: DEPLOY_ROLE, action: 'kms:CreateGrant', resourceArn: keyArn, context: { ...viaDynamoDb, 'kms:GrantIsForAWSResource': 'true' } })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: DEPLOY_ROLE, action: 'kms:Decrypt', resourceArn: keyArn })).not.toBe('Allowed');
  });
});

describe('a home\'s own administration', () => {
  const replicate = {
    sid: 'ReplicateToSetRegions',
    actions: ['kms:ReplicateKey'],
    conditions: { StringEquals: { 'kms:ReplicaRegion': ['eu-west-1'] } },
    administrator: true,
    principalArns: [`arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-eu-west-1`],
  };

  test('an adopted admin role of a CONFIDENTIAL key replicates only with MFA; the deploy roles as they are', async () => {
    const { stack, resource, id } = keyIn(multiRegionPrimaryHome([replicate]), {}, undefined, 'adopted');
    expect(sids(resource)).toEqual(expect.arrayContaining(['ReplicateToSetRegionsWithMfa', 'ReplicateToSetRegions']));
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(id);
    const admin = `arn:aws:iam::${ACCOUNT}:role/KeyOperators`;
    const decide = (principalArn: string, context: Record<string, string>) => sim.simulate({ principalArn, action: 'kms:ReplicateKey', resourceArn: keyArn, context });
    expect(await decide(admin, { 'kms:ReplicaRegion': 'eu-west-1', 'aws:MultiFactorAuthPresent': 'true' })).toBe('Allowed');
    expect(await decide(admin, { 'kms:ReplicaRegion': 'eu-west-1', 'aws:MultiFactorAuthPresent': 'false' })).not.toBe('Allowed');
    expect(await decide(admin, { 'kms:ReplicaRegion': 'eu-central-1', 'aws:MultiFactorAuthPresent': 'true' })).not.toBe('Allowed');
    expect(await decide(replicate.principalArns[0], { 'kms:ReplicaRegion': 'eu-west-1' })).toBe('Allowed');
  });

  test('without the administrator, only the principals named get it', () => {
    const { resource } = keyIn(multiRegionPrimaryHome([{ ...replicate, administrator: false }]), {}, undefined, 'adopted');
    const statement = resource.Properties.KeyPolicy.Statement.find((s: any) => s.Sid === 'ReplicateToSetRegions');
    expect(statement.Principal.AWS).toEqual(replicate.principalArns[0]);
    expect(sids(resource)).not.toContain('ReplicateToSetRegionsWithMfa');
  });

  test('a role this library made, with MFA in its trust, shares one statement with the deploy roles', () => {
    const { resource } = keyIn(multiRegionPrimaryHome([replicate]));
    const statement = resource.Properties.KeyPolicy.Statement.find((s: any) => s.Sid === 'ReplicateToSetRegions');
    expect(statement.Principal.AWS).toHaveLength(2);
    expect(statement.Condition).toEqual({ StringEquals: { 'kms:ReplicaRegion': ['eu-west-1'] } });
    expect(sids(resource)).not.toContain('ReplicateToSetRegionsWithMfa');
  });
});
