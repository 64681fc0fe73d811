/**
 * Self-test of the policy simulation harness (test/support/policy-sim.ts) on plain CDK stacks.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { PolicySimulator } from './support/policy-sim';

const ACCOUNT = '111111111111';
const REGION = 'us-east-1';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ATTACKER = 'arn:aws:iam::222222222222:role/Attacker';
const STAR_ADMIN = `arn:aws:iam::${ACCOUNT}:role/KmsStarAdmin`;
const TRAIL_ARN = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/MyTrail`;

function newStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: { account: ACCOUNT, region: REGION } });
}

/** The logical id CDK gives a construct's default child. */
function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as kms.CfnKey);
}

describe('intrinsic resolution', () => {
  const template = {
    Parameters: { Env: { Type: 'String', Default: 'prod' } },
    Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] } },
    Resources: {
      Key: { Type: 'AWS::KMS::Key', Properties: {} },
      Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [] } } },
      NamedRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: { 'Fn::Sub': '${AWS::StackName}-named' }, Path: '/svc/' } },
      Topic: { Type: 'AWS::SNS::Topic' },
      Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'my-bucket' } },
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/aws/my' } },
      Table: { Type: 'AWS::DynamoDB::Table' },
      Queue: { Type: 'AWS::SQS::Queue' },
      Trail: { Type: 'AWS::CloudTrail::Trail', Properties: { TrailName: 'MyTrail' } },
      Other: { Type: 'AWS::Foo::Bar' },
    },
  };
  const sim = new PolicySimulator(template, { account: ACCOUNT, region: REGION });

  test('Ref and Fn::GetAtt give deterministic names and ARNs', () => {
    const keyId = sim.resolve({ Ref: 'Key' }) as string;
    expect(keyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new PolicySimulator(template, { account: ACCOUNT, region: REGION }).keyArn('Key')).toBe(sim.keyArn('Key'));
    expect(sim.keyArn('Key')).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`);
    expect(sim.resolve({ 'Fn::GetAtt': ['Key', 'Arn'] })).toBe(sim.keyArn('Key'));
    expect(sim.resolve({ Ref: 'Role' })).toBe('Role');
    expect(sim.roleArn('Role')).toBe(`arn:aws:iam::${ACCOUNT}:role/Role`);
    expect(sim.roleArn('NamedRole')).toBe(`arn:aws:iam::${ACCOUNT}:role/svc/TestStack-named`);
    expect(sim.resolve({ Ref: 'Topic' })).toBe(`arn:aws:sns:${REGION}:${ACCOUNT}:Topic`);
    expect(sim.resolve({ 'Fn::GetAtt': ['Bucket', 'Arn'] })).toBe('arn:aws:s3:::my-bucket');
    expect(sim.resolve({ 'Fn::GetAtt': ['Logs', 'Arn'] })).toBe(`arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/my:*`);
    expect(sim.resolve({ 'Fn::GetAtt': ['Table', 'Arn'] })).toBe(`arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/Table`);
    expect(sim.resolve({ 'Fn::GetAtt': ['Queue', 'Arn'] })).toBe(`arn:aws:sqs:${REGION}:${ACCOUNT}:Queue`);
    expect(sim.resolve({ 'Fn::GetAtt': 'Trail.Arn' })).toBe(TRAIL_ARN);
    expect(sim.resolve({ 'Fn::GetAtt': ['Other', 'Arn'] })).toBe(`arn:aws:foo:${REGION}:${ACCOUNT}:bar/Other`);
    expect(sim.resolve({ Ref: 'Other' })).toBe('Other');
    expect(sim.logicalIdsOfType('AWS::IAM::Role')).toEqual(['Role', 'NamedRole']);
  });

  test('pseudo parameters, Join, Select, Split, Sub, If', () => {
    expect(sim.resolve({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] })).toBe(ROOT);
    expect(sim.resolve({ 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] })).toBe('b');
    expect(sim.resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/${!literal} ${AWS::Region}.${AWS::URLSuffix}' }))
      .toBe('arn:aws:s3:::my-bucket/${literal} us-east-1.amazonaws.com');
    expect(sim.resolve({ 'Fn::Sub': ['${Name}-${Key.Arn}', { Name: { Ref: 'Env' } }] })).toBe(`prod-${sim.keyArn('Key')}`);
    expect(sim.resolve({ 'Fn::If': ['IsProd', 'yes', { Ref: 'AWS::NoValue' }] })).toBe('yes');
    expect(sim.resolve({ a: 1, b: { Ref: 'AWS::NoValue' } })).toEqual({ a: 1 });
    expect(() => sim.resolve({ 'Fn::ImportValue': 'x' })).toThrow(/cannot resolve Fn::ImportValue/);
  });
});

describe('default key policy and grants', () => {
  const stack = newStack();
  const key = new kms.Key(stack, 'Key');
  const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
  key.grantDecrypt(role);
  const sim = PolicySimulator.fromStack(stack);
  const keyArn = sim.keyArn(logicalId(stack, key));
  const roleArn = sim.roleArn(logicalId(stack, role));

  test('the role granted decrypt can decrypt but not schedule deletion', async () => {
    expect(sim.identityPoliciesOf(logicalId(stack, role))).toHaveLength(1);
    expect(await sim.simulate({ principalArn: roleArn, action: 'kms:Decrypt', resourceArn: keyArn })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: roleArn, action: 'kms:ScheduleKeyDeletion', resourceArn: keyArn })).toBe('ImplicitlyDenied');
    // Without its identity policy the role has nothing: the key policy delegates to IAM via the root.
    expect(await sim.can(roleArn, 'kms:Decrypt', keyArn, { includeTemplateIdentityPolicies: false })).toBe(false);
  });

  test('the account root is allowed everything by the default key policy', async () => {
    expect(await sim.can(ROOT, 'kms:ScheduleKeyDeletion', keyArn)).toBe(true);
    expect(await sim.can(ACCOUNT, 'kms:PutKeyPolicy', keyArn)).toBe(true);
  });

  test('a principal in another account cannot decrypt, even with kms:* in its own account', async () => {
    expect(await sim.can(ATTACKER, 'kms:Decrypt', keyArn, { identityPolicies: [PolicySimulator.allowPolicy('kms:*')] })).toBe(false);
  });

  test('explain exposes the simulation input and a summary', async () => {
    const e = await sim.explain({ principalArn: roleArn, action: 'kms:Decrypt', resourceArn: keyArn });
    expect(e.decision).toBe('Allowed');
    expect(e.simulation.request.contextVariables).toMatchObject({
      'aws:PrincipalArn': roleArn,
      'aws:PrincipalAccount': ACCOUNT,
      'kms:CallerAccount': ACCOUNT,
    });
    expect(e.summary).toContain('identity Allowed');
  });

  test('invalid input throws instead of silently denying', async () => {
    await expect(sim.simulate({ principalArn: roleArn, action: 'kms:Decrypts', resourceArn: keyArn })).rejects.toThrow(/invalid.action/);
    await expect(sim.can(roleArn, 'kms:Decrypt', keyArn, { context: { 'kms:ViaServcie': 'x' } })).rejects.toThrow(/unknown context key/);
    await expect(sim.can(roleArn, 'kms:Decrypt', keyArn, { context: { 'aws:MultiFactorAuthPresent': 'yes' } })).rejects.toThrow(/Bool/);
    // kms:GrantIsForAWSResource only exists for the grant APIs.
    await expect(sim.can(roleArn, 'kms:Decrypt', keyArn, { context: { 'kms:GrantIsForAWSResource': 'true' } })).rejects.toThrow(/do not apply/);
    expect(await sim.can(roleArn, 'kms:Decrypt', keyArn, { context: { 'kms:GrantIsForAWSResource': 'true' }, allowIgnoredContextKeys: true })).toBe(true);
  });
});

describe('custom key policies', () => {
  const stack = newStack();
  const root = new iam.AccountRootPrincipal();
  const org = 'o-abc123def4';
  const key = new kms.Key(stack, 'Key', {
    policy: new iam.PolicyDocument({
      statements: [
        // Administration only for the account: IAM policies may delegate these, but not key use.
        new iam.PolicyStatement({
          sid: 'KeyAdministration',
          principals: [root],
          actions: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*',
            'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion'],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'UseViaS3',
          principals: [root],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT } },
        }),
        new iam.PolicyStatement({
          sid: 'CloudTrailEncrypt',
          principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
          actions: ['kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: {
            StringEquals: { 'aws:SourceArn': stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: 'MyTrail' }) },
            StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${ACCOUNT}:trail/*` },
          },
        }),
        new iam.PolicyStatement({
          sid: 'DenyOutsideOrg',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:*'],
          resources: ['*'],
          conditions: { StringNotEquals: { 'aws:PrincipalOrgID': org }, BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' } },
        }),
      ],
    }),
  });
  const reader = new iam.Role(stack, 'Reader', { assumedBy: root });
  key.grantDecrypt(reader);
  const sim = PolicySimulator.fromStack(stack);
  const keyArn = sim.keyArn(logicalId(stack, key));
  const readerArn = sim.roleArn(logicalId(stack, reader));
  const inOrg = { 'aws:PrincipalOrgID': org };

  test('kms:ViaService condition: allowed through S3, denied directly', async () => {
    const viaS3 = { ...inOrg, 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
    expect(await sim.simulate({ principalArn: readerArn, action: 'kms:Decrypt', resourceArn: keyArn, context: viaS3 })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: readerArn, action: 'kms:Decrypt', resourceArn: keyArn, context: inOrg })).toBe('ImplicitlyDenied');
    expect(await sim.can(readerArn, 'kms:Decrypt', keyArn, { context: { ...inOrg, 'kms:ViaService': `sqs.${REGION}.amazonaws.com` } })).toBe(false);
  });

  test('Deny on aws:PrincipalOrgID StringNotEquals', async () => {
    const viaS3 = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
    expect(await sim.simulate({ principalArn: readerArn, action: 'kms:Decrypt', resourceArn: keyArn, context: viaS3 })).toBe('ExplicitlyDenied');
    expect(await sim.simulate({ principalArn: readerArn, action: 'kms:Decrypt', resourceArn: keyArn, context: { ...viaS3, 'aws:PrincipalOrgID': 'o-other' } }))
      .toBe('ExplicitlyDenied');
    // The exemption for AWS services relies on the automatically filled aws:PrincipalIsAWSService.
    const svc = await sim.simulate({ principalArn: 'cloudtrail.amazonaws.com', action: 'kms:GenerateDataKey', resourceArn: keyArn, autoContext: false });
    expect(svc).toBe('ExplicitlyDenied');
    const trail = { 'aws:SourceArn': TRAIL_ARN, 'kms:EncryptionContext:aws:cloudtrail:arn': TRAIL_ARN };
    expect(await sim.simulate({ principalArn: 'cloudtrail.amazonaws.com', action: 'kms:GenerateDataKey', resourceArn: keyArn, context: trail })).toBe('Allowed');
    // Caller-supplied values override the automatic ones.
    expect(await sim.simulate({
      principalArn: 'cloudtrail.amazonaws.com',
      action: 'kms:GenerateDataKey',
      resourceArn: keyArn,
      context: { ...trail, 'aws:principalisawsservice': 'false' },
    })).toBe('ExplicitlyDenied');
  });

  test('service principal with an aws:SourceArn condition', async () => {
    const context = { 'aws:SourceArn': TRAIL_ARN, 'kms:EncryptionContext:aws:cloudtrail:arn': TRAIL_ARN };
    expect(await sim.can('cloudtrail.amazonaws.com', 'kms:GenerateDataKey', keyArn, { context })).toBe(true);
    expect(await sim.can('cloudtrail.amazonaws.com', 'kms:GenerateDataKey', keyArn, {
      context: { ...context, 'aws:SourceArn': `arn:aws:cloudtrail:${REGION}:222222222222:trail/MyTrail` },
    })).toBe(false);
    expect(await sim.can('cloudtrail.amazonaws.com', 'kms:GenerateDataKey', keyArn, { context: { 'kms:EncryptionContext:aws:cloudtrail:arn': TRAIL_ARN } })).toBe(false);
    expect(await sim.can('cloudtrail.amazonaws.com', 'kms:GenerateDataKey', keyArn, {
      context: { ...context, 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:${REGION}:222222222222:trail/MyTrail` },
    })).toBe(false);
    expect(await sim.can('cloudtrail.amazonaws.com', 'kms:Decrypt', keyArn, { context })).toBe(false);
    // DescribeKey takes no encryption context: passing one is a test bug, not a silent deny.
    await expect(sim.can('cloudtrail.amazonaws.com', 'kms:DescribeKey', keyArn, { context })).rejects.toThrow(/do not apply/);
    expect(await sim.can(`logs.${REGION}.amazonaws.com`, 'kms:GenerateDataKey', keyArn, { context })).toBe(false);
  });

  test('kms:* in an identity policy is useless when the key policy grants the root administration only', async () => {
    const opts = { identityPolicies: [PolicySimulator.allowPolicy('kms:*')], context: inOrg };
    expect(await sim.can(STAR_ADMIN, 'kms:Decrypt', keyArn, opts)).toBe(false);
    expect(await sim.can(STAR_ADMIN, 'kms:DescribeKey', keyArn, opts)).toBe(true);
    expect(await sim.can(STAR_ADMIN, 'kms:ScheduleKeyDeletion', keyArn, opts)).toBe(true);
    // Without any identity policy the admin gets nothing: the root statement is only a delegation.
    expect(await sim.can(STAR_ADMIN, 'kms:DescribeKey', keyArn, { context: inOrg })).toBe(false);
  });
});

describe('role trust policies', () => {
  const stack = newStack();
  const role = new iam.Role(stack, 'BreakGlass', {
    assumedBy: new iam.AccountRootPrincipal().withConditions({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } }),
  });
  const service = new iam.Role(stack, 'ForLambda', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const sim = PolicySimulator.fromStack(stack);
  const alice = `arn:aws:iam::${ACCOUNT}:user/alice`;

  test('aws:MultiFactorAuthPresent condition', async () => {
    const id = logicalId(stack, role);
    expect(await sim.canAssume(id, alice, { 'aws:MultiFactorAuthPresent': 'true' })).toBe(true);
    expect(await sim.canAssume(id, alice)).toBe(false);
    expect(await sim.canAssume(id, alice, { 'aws:MultiFactorAuthPresent': 'false' })).toBe(false);
    expect(await sim.canAssume(id, ATTACKER, { 'aws:MultiFactorAuthPresent': 'true' })).toBe(false);
  });

  test('service trust', async () => {
    const id = logicalId(stack, service);
    expect(await sim.canAssume(id, 'lambda.amazonaws.com')).toBe(true);
    expect(await sim.canAssume(id, 'ec2.amazonaws.com')).toBe(false);
    expect(await sim.canAssume(id, alice)).toBe(false);
  });
});

describe('identity policies and other resource policies in the template', () => {
  const stack = newStack();
  const key = new kms.Key(stack, 'Key');
  const managed = new iam.ManagedPolicy(stack, 'Describe', {
    statements: [new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [key.keyArn] })],
  });
  const role = new iam.Role(stack, 'Worker', {
    roleName: 'worker',
    assumedBy: new iam.AccountRootPrincipal(),
    managedPolicies: [managed],
    inlinePolicies: {
      deny: new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['kms:ScheduleKeyDeletion'], resources: ['*'] })],
      }),
    },
  });
  key.grantEncrypt(role);
  const sim = PolicySimulator.fromStack(stack);
  const roleId = logicalId(stack, role);
  const keyArn = sim.keyArn(logicalId(stack, key));

  test('inline, AWS::IAM::Policy and managed policies are all collected', async () => {
    expect(sim.roleArn(roleId)).toBe(`arn:aws:iam::${ACCOUNT}:role/worker`);
    expect(sim.identityPoliciesOf(roleId)).toHaveLength(3);
    const session = `arn:aws:sts::${ACCOUNT}:assumed-role/worker/session`;
    expect(await sim.can(session, 'kms:DescribeKey', keyArn)).toBe(true);
    expect(await sim.can(session, 'kms:Encrypt', keyArn)).toBe(true);
    expect(await sim.can(session, 'kms:Decrypt', keyArn)).toBe(false);
    expect(await sim.simulate({ principalArn: session, action: 'kms:ScheduleKeyDeletion', resourceArn: keyArn })).toBe('ExplicitlyDenied');
  });

  test('managed policies outside the template must be supplied', () => {
    const other = newStack();
    const r = new iam.Role(other, 'R', { assumedBy: new iam.AccountRootPrincipal() });
    r.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'));
    const id = logicalId(other, r);
    expect(() => PolicySimulator.fromStack(other).identityPoliciesOf(id)).toThrow(/not in the template/);
    const managedPolicies = { 'arn:aws:iam::aws:policy/ReadOnlyAccess': PolicySimulator.allowPolicy('kms:Describe*') };
    expect(PolicySimulator.fromStack(other, { managedPolicies }).identityPoliciesOf(id)).toHaveLength(1);
  });

  test('bucket policies are the default resource policy for their bucket and objects', async () => {
    const other = newStack();
    const bucket = new s3.Bucket(other, 'Bucket', { bucketName: 'logs-bucket' });
    bucket.grantPut(new iam.ServicePrincipal('cloudtrail.amazonaws.com'));
    const bsim = PolicySimulator.fromStack(other);
    expect(await bsim.can('cloudtrail.amazonaws.com', 's3:PutObject', 'arn:aws:s3:::logs-bucket/AWSLogs/x')).toBe(true);
    expect(await bsim.can('cloudtrail.amazonaws.com', 's3:PutObject', 'arn:aws:s3:::other-bucket/AWSLogs/x')).toBe(false);
  });
});
