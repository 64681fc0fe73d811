/*
 * KeyGrant: what it synthesizes (the custom resource, the key policy's statements for its
 * handler, the expiry schedule) and the bad input it refuses at synth with the prop and the
 * value. What the key policy then allows is proven in key-grant.policy.test.ts, the handler
 * in key-grant.lambda.test.ts.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ClassifiedKey, DataClassification, KeyGrant, KeyGrantOperation, KeyGrantProps } from '../src';
import { nagFindings } from './support/nag';
import { newStack, statementWithSid } from './support/stack';

function setup(classification = DataClassification.CONFIDENTIAL, keyProps: Partial<ConstructorParameters<typeof ClassifiedKey>[2]> = {}) {
  const stack = newStack();
  const key = new ClassifiedKey(stack, 'Key', { classification, ...keyProps });
  const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal(), roleName: 'Analyst' });
  return { stack, key, analyst };
}
const grant = (props: Partial<KeyGrantProps> = {}, fx = setup()) => {
  new KeyGrant(fx.stack, 'AuditGrant', {
    key: fx.key, grantee: fx.analyst, operations: [KeyGrantOperation.DECRYPT], encryptionContextSubset: { project: 'audit-2026' }, ...props,
  });
  return fx;
};

describe('what it synthesizes', () => {
  test('a Custom::KmsKeyGrant with the key, grantee, operations and constraint, and the grant\'s ID, token and name as attributes', () => {
    const fx = setup();
    const g = new KeyGrant(fx.stack, 'AuditGrant', {
      key: fx.key, grantee: fx.analyst, operations: [KeyGrantOperation.DECRYPT, KeyGrantOperation.DESCRIBE_KEY], encryptionContextSubset: { project: 'audit-2026' },
    });
    const template = Template.fromStack(fx.stack);
    template.hasResourceProperties('Custom::KmsKeyGrant', {
      KeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
      GranteePrincipal: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Analyst'), 'Arn'] },
      Operations: ['Decrypt', 'DescribeKey'],
      EncryptionContextSubset: { project: 'audit-2026' },
    });
    expect(JSON.stringify(fx.stack.resolve([g.grantId, g.grantToken, g.grantName]))).toMatch(/^\[\{"Fn::GetAtt":\["AuditGrant[0-9A-F]+","GrantId"\]\},.*"GrantToken".*"GrantName"/);
  });

  test('the key policy lets the handler create this grant and no other, and keep its grants; the grant deny excepts the handler', () => {
    const { stack, key } = grant();
    const resources = Template.fromStack(stack).toJSON().Resources;
    const statements: any[] = resources[stack.getLogicalId(key.node.defaultChild as never)].Properties.KeyPolicy.Statement;
    const handlerRole = { 'Fn::GetAtt': [expect.stringMatching(/^KmsConstructsCustomResourcesKeyGrantHandlerRole/), 'Arn'] };
    const analyst = { 'Fn::GetAtt': [expect.stringMatching(/^Analyst/), 'Arn'] };
    expect(statements.filter(st => JSON.stringify(st.Principal).includes('KeyGrantHandlerRole'))).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: handlerRole },
        Action: 'kms:CreateGrant',
        Resource: '*',
        Condition: {
          'StringEquals': {
            'kms:GranteePrincipal': analyst,
            'kms:GrantConstraintType': 'EncryptionContextSubset',
            'kms:EncryptionContext:project': 'audit-2026',
          },
          'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'], 'kms:EncryptionContextKeys': ['project'] },
          'Null': { 'kms:GrantOperations': 'false', 'kms:RetiringPrincipal': 'true', 'kms:RetiringServicePrincipal': 'true' },
        },
      },
      { Effect: 'Allow', Principal: { AWS: handlerRole }, Action: ['kms:ListGrants', 'kms:RevokeGrant'], Resource: '*' },
    ]);
    expect(statements.find(st => st.Sid === 'DenyGrantsNotForAwsResources').Condition).toEqual({
      BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      ArnNotEquals: { 'aws:PrincipalArn': [handlerRole] },
    });
  });

  test('a key without a KeyGrant keeps the grant deny exactly as CT.KMS.PR.3 checks it', () => {
    const { stack } = setup();
    expect(statementWithSid(Template.fromStack(stack), 'DenyGrantsNotForAwsResources').Condition)
      .toEqual({ BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } });
  });

  test('expiresAfter adds a schedule that runs the handler with the key, every quarter of the lifetime and at most every 15 minutes', () => {
    const { stack } = grant({ expiresAfter: Duration.hours(8) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::KmsKeyGrant', { ExpiresAfterSeconds: '28800' });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      Target: {
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KmsConstructsCustomResourcesKeyGrantHandler'), 'Arn'] },
        Input: { 'Fn::Join': ['', ['{"expireGrants":{"KeyId":"', { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] }, '"}}']] },
      },
    });
    const short = grant({ expiresAfter: Duration.minutes(20) });
    Template.fromStack(short.stack).hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  test('a grant to a service principal names it, with its source constraint, which the key policy also holds the handler to', () => {
    const fx = setup();
    const source = 'arn:aws:logs:us-east-1:111111111111:log-group:app';
    new KeyGrant(fx.stack, 'LogsGrant', {
      key: fx.key,
      grantee: new iam.ServicePrincipal('logs.us-east-1.amazonaws.com'),
      operations: [KeyGrantOperation.GENERATE_DATA_KEY],
      sourceArn: source,
      retiringPrincipal: new iam.ServicePrincipal('logs.us-east-1.amazonaws.com'),
    });
    const template = Template.fromStack(fx.stack);
    template.hasResourceProperties('Custom::KmsKeyGrant', {
      GranteeServicePrincipal: 'logs.us-east-1.amazonaws.com',
      RetiringServicePrincipal: 'logs.us-east-1.amazonaws.com',
      SourceArn: source,
      GranteePrincipal: Match.absent(),
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'kms:CreateGrant',
          Condition: Match.objectLike({
            StringEquals: {
              'kms:GranteeServicePrincipal': 'logs.us-east-1.amazonaws.com',
              'kms:RetiringServicePrincipal': 'logs.us-east-1.amazonaws.com',
              'kms:GrantConstraintSourceArn': source,
            },
          }),
        })]),
      },
    });
  });

  test('cdk-nag finds nothing on the grant, its handler, its schedule and the key', () => {
    const { stack } = grant({ expiresAfter: Duration.hours(8) });
    expect(nagFindings(stack.node.root)).toEqual([]);
  });
});

describe('bad input is refused at synth, naming the prop and the value', () => {
  test.each<[string, (fx: ReturnType<typeof setup>) => Partial<KeyGrantProps>, string | RegExp]>([
    ['no operation', () => ({ operations: [] }), 'operations must name at least one operation, got []'],
    ['an operation the key\'s usage does not have', () => ({ operations: [KeyGrantOperation.SIGN] }),
      /^operations must be operations of TestStack\/Key's usage \(SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT: DescribeKey, RetireGrant, Decrypt, .*\), got Sign$/],
    ['an operation twice', () => ({ operations: [KeyGrantOperation.DECRYPT, KeyGrantOperation.DECRYPT] }), 'operations lists an operation twice, got [Decrypt, Decrypt]'],
    ['the admin role as grantee', fx => ({ grantee: fx.key.adminRole }),
      'grantee must not be the admin role of TestStack/Key: its administrators manage the key and never use it'],
    ['an account root as grantee', () => ({ grantee: new iam.AccountRootPrincipal() }), /^grantee must not be an account root/],
    ['everyone as grantee', () => ({ grantee: new iam.AnyPrincipal() }), /^grantee must be one IAM role or user, or one service principal, got/],
    ['a service principal without its source and retiring principal', () => ({ grantee: new iam.ServicePrincipal('logs.amazonaws.com') }),
      'a grant to the service principal logs.amazonaws.com needs sourceArn and retiringPrincipal, as KMS asks of grants to services, got sourceArn undefined and retiringPrincipal undefined'],
    ['no constraint on a CONFIDENTIAL key', () => ({ encryptionContextSubset: undefined }),
      'a grant on CONFIDENTIAL key TestStack/Key must be constrained by encryptionContextSubset, encryptionContextEquals or sourceArn, or opt in with allowUnconstrained: true, got none'],
    ['both encryption context constraints', () => ({ encryptionContextEquals: { a: 'b' } }), 'encryptionContextSubset and encryptionContextEquals are exclusive: give one'],
    ['an empty encryption context', () => ({ encryptionContextSubset: {} }), 'encryptionContextSubset must hold at least one pair, or be left out, got {}'],
    ['a lifetime shorter than a deployment', () => ({ expiresAfter: Duration.minutes(5) }), 'expiresAfter must be at least 15 minutes (a deployment outlasts less), got 5 minutes'],
  ])('%s', (_name, props, message) => {
    const fx = setup();
    expect(() => grant(props(fx), fx)).toThrow(message);
  });

  test('an encryption context constraint on a key that takes none', () => {
    const signing = () => setup(DataClassification.CONFIDENTIAL, {
      keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY, viaServices: undefined,
    });
    expect(() => grant({ operations: [KeyGrantOperation.SIGN] }, signing()))
      .toThrow('encryptionContextSubset applies to symmetric encryption keys only, and TestStack/Key is ECC_NIST_P256');
    const other = signing();
    expect(() => grant({ operations: [KeyGrantOperation.GENERATE_DATA_KEY], encryptionContextSubset: undefined, allowUnconstrained: true }, other))
      .toThrow(/got GenerateDataKey$/);
  });

  test('no constraint is accepted on a CONFIDENTIAL key when asked by name, and on an INTERNAL key without asking', () => {
    expect(() => grant({ encryptionContextSubset: undefined, allowUnconstrained: true })).not.toThrow();
    expect(() => grant({ encryptionContextSubset: undefined }, setup(DataClassification.INTERNAL))).not.toThrow();
  });

  test('a grant to a principal on a key held to viaServices, without the opt-in', () => {
    const fx = setup(DataClassification.CONFIDENTIAL, { viaServices: ['s3'] });
    expect(() => grant({}, fx)).toThrow('a grant on TestStack/Key, whose use is held to viaServices [s3], lets its grantee call KMS directly too: '
      + 'a grant cannot be held to services. Constrain it by the encryption context those services set, and opt in with allowUseOutsideViaServices: true, got none');
    expect(() => grant({ encryptionContextSubset: { 'aws:s3:arn': 'arn:aws:s3:::ledger' }, allowUseOutsideViaServices: true },
      setup(DataClassification.CONFIDENTIAL, { viaServices: ['s3'] }))).not.toThrow();
  });

  test('an encryption context constraint that leaves out a key the key asks for', () => {
    const fx = setup(DataClassification.RESTRICTED, { encryptionContextKeys: ['tenant', 'project'] });
    expect(() => grant({}, fx)).toThrow('the grant\'s encryption context constraint must name every key TestStack/Key asks requests for (encryptionContextKeys), missing tenant');
    expect(() => grant({ encryptionContextSubset: { tenant: 't-1', project: 'p' } }, setup(DataClassification.RESTRICTED, { encryptionContextKeys: ['tenant', 'project'] })))
      .not.toThrow();
  });

  test('a key of another stack', () => {
    const fx = setup();
    const other = new Stack(fx.stack.node.root as never, 'Other', { env: { account: '111111111111', region: 'us-east-1' } });
    expect(() => new KeyGrant(other, 'AuditGrant', { key: fx.key, grantee: fx.analyst, operations: [KeyGrantOperation.DECRYPT], allowUnconstrained: true }))
      .toThrow('key must be in the KeyGrant\'s stack Other, where its policy names the grant\'s handler, got TestStack/Key of TestStack');
  });

  test('a KeyGrant after the key policy was written', () => {
    const fx = setup();
    Template.fromStack(fx.stack);
    expect(() => grant({}, fx)).toThrow('a KeyGrant of TestStack/Key was declared after the key\'s policy was written: declare it before synthesis');
    expect(Stack.of(fx.key)).toBe(fx.stack);
  });
});
