/**
 * The attack catalogue: each path by which someone with ordinary account permissions
 * could use, destroy, re-point or take over a classified key, tried against the
 * synthesized policies with the policy simulator (test/support/policy-sim.ts), which
 * sets `aws:PrincipalArn`, `aws:PrincipalAccount` and `kms:CallerAccount` as AWS sets
 * them. Each test asserts the denial (or the synth error) for the attacker's request,
 * asked with the most favourable context the attacker could give it (MFA, the key's
 * service), so that no denial holds only because a context key is missing.
 *
 * The attacker: an IAM principal of the key's account whose identity policy allows
 * kms:* on everything, as PowerUserAccess does.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { App, CfnElement, CfnParameter, Fn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { IConstruct } from 'constructs';
import { ClassifiedKey, DataClassification, MultiRegionKeySet } from '../src';
import { customResourceEvent, stackRecord } from './support/handlers';
import { adoptedKeyStore } from './support/key-store';
import { ContextValues, PolicySimulator } from './support/policy-sim';
import { LOOKUP_RESOURCE, PRIMARY_ARN, primaryKey, primaryStack } from './support/primary-key';
import { ACCOUNT, newStack, OTHER_ACCOUNT, REGION } from './support/stack';
import { KNOWN_VIA_SERVICES, SERVICES } from '../src/key/consumers';
import { handler as lookup } from '../src/multi-region/primary-key-lookup.lambda';

const KMS_STAR_PRINCIPAL = `arn:aws:iam::${ACCOUNT}:role/PowerUser`;
const KMS_STAR = [PolicySimulator.allowPolicy('kms:*')];
const ROOT_USER = `arn:aws:iam::${ACCOUNT}:root`;
const deployRole = (region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${region}`;

/** What destroys, disables, re-points or re-tags a key, or rewrites who may use it. */
const TAKEOVER = [
  'kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:UpdateAlias', 'kms:DeleteAlias', 'kms:CreateAlias',
  'kms:TagResource', 'kms:UntagResource', 'kms:PutKeyPolicy', 'kms:UpdateKeyDescription', 'kms:RevokeGrant',
  'kms:DisableKeyRotation', 'kms:CancelKeyDeletion', 'kms:EnableKey',
];
/** Every action that uses a key (of any usage), and creating grants that hand use on. */
const CRYPTOGRAPHY = [
  'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:Sign', 'kms:Verify', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:DeriveSharedSecret', 'kms:CreateGrant',
];

const logicalId = (construct: IConstruct) => {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).getLogicalId(element);
};

/** A key in one of its homes, synthesized and ready to be simulated. */
interface KeyUnderAttack {
  readonly sim: PolicySimulator;
  readonly keyArn: string;
  readonly region: string;
  /** The principals that must keep managing the key, so that it is never locked out. */
  readonly managers: string[];
  /** The handler that creates the key and writes its policy and tags, for a key it makes. */
  readonly handlerArn?: string;
}

function attackable(key: ClassifiedKey, handlerRole?: iam.IRole): KeyUnderAttack {
  const stack = Stack.of(key);
  const sim = PolicySimulator.fromStack(stack);
  return {
    sim,
    keyArn: sim.keyArn(logicalId(key)),
    region: stack.region,
    managers: [ROOT_USER, deployRole(stack.region)],
    handlerArn: handlerRole && sim.roleArn(logicalId(handlerRole)),
  };
}

const HOMES: Record<string, (classification: DataClassification) => KeyUnderAttack> = {
  'a standard key': classification => {
    const stack = newStack();
    return attackable(new ClassifiedKey(stack, 'Key', { classification, viaServices: ['dynamodb'] }));
  },
  'a multi-Region primary': classification => attackable(multiRegionSet(classification).primaryKey),
  'a multi-Region replica': classification => attackable(multiRegionSet(classification).keyIn('eu-west-1')),
  'a key in a CloudHSM key store': classification => {
    const stack = newStack();
    const key = adoptedKeyStore(stack).addKey('Key', { classification, viaServices: ['dynamodb'] });
    // The keys' handler creates the key, so writes its policy (KMS's lockout check).
    const handler = stack.node.findAll().find((c): c is iam.Role => c instanceof iam.Role && c.node.path.endsWith('/HsmKey/HandlerRole'));
    return attackable(key, handler);
  },
};

function multiRegionSet(classification: DataClassification): MultiRegionKeySet {
  return new MultiRegionKeySet(new App(), 'Orders', {
    account: ACCOUNT,
    primaryRegion: REGION,
    replicaRegions: ['eu-west-1'],
    classification,
    viaServices: ['dynamodb'],
  });
}

/** The most favourable context the attacker can give a request for `action`. */
function favourable(region: string, action: string): ContextValues {
  const context: ContextValues = { 'aws:MultiFactorAuthPresent': 'true' };
  if (CRYPTOGRAPHY.includes(action)) context['kms:ViaService'] = `dynamodb.${region}.amazonaws.com`;
  if (action === 'kms:CreateGrant' || action === 'kms:RevokeGrant') context['kms:GrantIsForAWSResource'] = 'true';
  return context;
}

async function verdicts(
  target: KeyUnderAttack, principal: string, actions: string[], identityPolicies = KMS_STAR, context: ContextValues = {},
): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const action of actions) {
    result[action] = await target.sim.simulate({
      principalArn: principal, action, resourceArn: target.keyArn, identityPolicies, context: { ...favourable(target.region, action), ...context },
    });
  }
  return result;
}
const all = (actions: string[], decision: string) => Object.fromEntries(actions.map(a => [a, decision]));

describe.each(Object.keys(HOMES))('%s', (home) => {
  describe.each([DataClassification.CONFIDENTIAL, DataClassification.RESTRICTED])('%s', (classification) => {
    let target: KeyUnderAttack;
    beforeAll(() => {
      target = HOMES[home](classification);
    });

    test('an IAM principal with kms:* cannot destroy, disable, re-point, re-tag or rewrite the key (path 2)', async () => {
      const decisions = await verdicts(target, KMS_STAR_PRINCIPAL, TAKEOVER);
      expect(Object.entries(decisions).filter(([, d]) => d === 'Allowed')).toEqual([]);
    });

    test('an IAM principal with kms:* cannot use the key', async () => {
      const decisions = await verdicts(target, KMS_STAR_PRINCIPAL, CRYPTOGRAPHY);
      expect(Object.entries(decisions).filter(([, d]) => d === 'Allowed')).toEqual([]);
    });

    test('the deploy role and the account\'s root user still can, so the key is never locked out', async () => {
      const lifecycle = ['kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy', 'kms:TagResource'];
      for (const manager of target.managers) {
        expect([manager, await verdicts(target, manager, lifecycle)]).toEqual([manager, all(lifecycle, 'Allowed')]);
      }
      if (target.handlerArn) {
        // With the handler's own policy from the template, which holds it to keys of CloudHSM origin.
        const written = ['kms:PutKeyPolicy', 'kms:TagResource', 'kms:UntagResource', 'kms:UpdateKeyDescription', 'kms:ScheduleKeyDeletion'];
        expect(await verdicts(target, target.handlerArn, written, [], { 'kms:KeyOrigin': 'AWS_CLOUDHSM' })).toEqual(all(written, 'Allowed'));
      }
    });
  });
});

// -----------------------------------------------------------------------------
// Path 1: a public principal, in any shape
// -----------------------------------------------------------------------------

describe('a public principal, in any shape, is refused on every key (path 1)', () => {
  const EVERYONE = /must not be given every principal|must not allow with NotPrincipal/;
  const shapes: Array<[string, () => iam.IPrincipal]> = [
    ['StarPrincipal', () => new iam.StarPrincipal()],
    ['StarPrincipal with conditions', () => new iam.StarPrincipal().withConditions({ StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } })],
    ['AnyPrincipal', () => new iam.AnyPrincipal()],
    ['ArnPrincipal(\'*\')', () => new iam.ArnPrincipal('*')],
    ['OrganizationPrincipal', () => new iam.OrganizationPrincipal('o-a1b2c3d4e5')],
    ['a CompositePrincipal with AnyPrincipal', () => new iam.CompositePrincipal(new iam.ArnPrincipal(`arn:aws:iam::${ACCOUNT}:role/App`), new iam.AnyPrincipal())],
  ];
  describe.each(Object.values(DataClassification))('%s key', (classification) => {
    test.each(shapes)('grantDecrypt(%s) fails at synth', (_shape, make) => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
      expect(() => key.grantDecrypt(make())).toThrow(EVERYONE);
    });

    test.each(shapes)('grantAdmin(%s) fails at synth', (_shape, make) => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
      expect(() => key.grantAdmin(make())).toThrow(EVERYONE);
    });

    test.each(shapes)('addToResourcePolicy allowing %s with a condition fails at synth', (_shape, make) => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
      expect(() => key.addToResourcePolicy(new iam.PolicyStatement({
        principals: [make()],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
      }))).toThrow(EVERYONE);
    });
  });

  test('an allow with NotPrincipal fails at synth', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(() => key.addToResourcePolicy(new iam.PolicyStatement({
      notPrincipals: [new iam.ArnPrincipal(`arn:aws:iam::${ACCOUNT}:role/Admin`)], actions: ['kms:Decrypt'], resources: ['*'],
    }))).toThrow(EVERYONE);
  });
});

// -----------------------------------------------------------------------------
// Path 3: the account root under a shape the grant does not look at
// -----------------------------------------------------------------------------

describe('the account root in a principal shape of its own is refused on CONFIDENTIAL and RESTRICTED keys (path 3)', () => {
  const root = /must not be given the account root|must be given a principal whose ARN is known at synth|must not give cryptographic actions to (an account's root|a principal whose ARN is known only at deploy time)/;
  const shapes: Array<[string, (stack: Stack) => iam.IPrincipal]> = [
    ['a CompositePrincipal of a role and the account root',
      stack => new iam.CompositePrincipal(new iam.Role(stack, 'App', { assumedBy: new iam.AccountRootPrincipal() }), new iam.AccountRootPrincipal())],
    ['an ArnPrincipal of Fn::Sub of the root', () => new iam.ArnPrincipal(Fn.sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:root'))],
    ['an ArnPrincipal of the root\'s literal ARN', () => new iam.ArnPrincipal(`arn:aws:iam::${ACCOUNT}:root`)],
    ['an AccountPrincipal of the key\'s own account', () => new iam.AccountPrincipal(ACCOUNT)],
    ['a role imported from a parameter (may be the root)', stack => iam.Role.fromRoleArn(stack, 'Imported', new CfnParameter(stack, 'ReaderArn').valueAsString)],
    ['a role imported from another stack\'s export (may be the root)', stack => iam.Role.fromRoleArn(stack, 'Exported', Fn.importValue('reader-arn'))],
  ];
  describe.each([DataClassification.CONFIDENTIAL, DataClassification.RESTRICTED])('%s key', (classification) => {
    test.each(shapes)('grantDecrypt(%s) fails at synth', (_shape, make) => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
      expect(() => key.grantDecrypt(make(stack))).toThrow(root);
    });

    test.each(shapes)('an escape-hatch statement giving %s decryption fails at synth', (_shape, make) => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
      expect(() => key.addToResourcePolicy(new iam.PolicyStatement({
        principals: [make(stack)],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } },
      }))).toThrow(root);
    });
  });

  test('through a service, the root of a composite grant is the deploy role\'s creation calls, never every IAM principal', async () => {
    // GIVEN a grant through S3, as aws-cdk-lib consumers make them, of a role and the root
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, viaServices: ['s3'] });
    const app = new iam.Role(stack, 'App', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDecrypt(new kms.ViaServicePrincipal(`s3.${REGION}.amazonaws.com`, new iam.CompositePrincipal(app, new iam.AccountRootPrincipal())));
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    const viaS3 = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };

    // THEN the role decrypts through S3, a kms:* principal of the account does not
    expect(await sim.can(sim.roleArn(logicalId(app)), 'kms:Decrypt', keyArn, { context: viaS3, identityPolicies: KMS_STAR })).toBe(true);
    expect(await sim.can(KMS_STAR_PRINCIPAL, 'kms:Decrypt', keyArn, { context: viaS3, identityPolicies: KMS_STAR })).toBe(false);
  });

  test('on an INTERNAL key, a role imported from a parameter is named as given', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(() => key.grantDecrypt(iam.Role.fromRoleArn(stack, 'Imported', new CfnParameter(stack, 'ReaderArn').valueAsString))).not.toThrow();
  });
});

// -----------------------------------------------------------------------------
// Path 4: the admin role under another name
// -----------------------------------------------------------------------------

describe('the admin role under another name gets no use (path 4)', () => {
  const adminArnOf = (key: ClassifiedKey) => Stack.of(key).resolve((key.adminRole.node.defaultChild as iam.CfnRole).roleName) as string;

  test.each(Object.values(DataClassification))('%s: grantDecrypt of an imported role of the admin role\'s ARN fails at synth', (classification) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
    const imported = iam.Role.fromRoleArn(stack, 'AdminAgain', `arn:aws:iam::${ACCOUNT}:role/${adminArnOf(key)}`);
    expect(() => key.grantDecrypt(imported)).toThrow(/must not be given the admin role .*: administrators manage the key and cannot use it/);
    expect(() => key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ArnPrincipal(`arn:aws:iam::${ACCOUNT}:role/${adminArnOf(key)}`)],
      actions: ['kms:Decrypt'],
      resources: ['*'],
      conditions: { Bool: { 'aws:SecureTransport': 'true' } },
    }))).toThrow(/must not give cryptographic actions to the admin role/);
  });

  test.each([DataClassification.CONFIDENTIAL, DataClassification.RESTRICTED])(
    '%s: the key policy denies the administrators every cryptographic action, whatever allows it', async (classification) => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
      const sim = PolicySimulator.fromStack(stack);
      const keyArn = sim.keyArn(logicalId(key));
      const adminArn = `arn:aws:iam::${ACCOUNT}:role/${adminArnOf(key)}`;
      for (const action of CRYPTOGRAPHY) {
        // The deny wins even over an allow naming the admin role (a resource policy written by hand).
        const handWritten = {
          Version: '2012-10-17',
          Statement: [...(sim.keyPolicy(logicalId(key)).Statement as any[]),
            { Effect: 'Allow', Principal: { AWS: adminArn }, Action: action, Resource: '*' }],
        };
        expect([action, await sim.simulate({
          principalArn: adminArn,
          action,
          resourceArn: keyArn,
          identityPolicies: KMS_STAR,
          context: favourable(REGION, action),
          resourcePolicy: handWritten as any,
        })]).toEqual([action, 'ExplicitlyDenied']);
      }
    });
});

// -----------------------------------------------------------------------------
// Path 5: cross-account grantees on a key narrowed to services
// -----------------------------------------------------------------------------

describe('a grantee of another account uses the key from its own account (path 5)', () => {
  const READER = `arn:aws:iam::${OTHER_ACCOUNT}:role/Reader`;
  const viaS3 = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
  const shapes: Array<[string, (stack: Stack) => iam.IGrantable]> = [
    ['an ArnPrincipal of a literal role ARN', () => new iam.ArnPrincipal(READER)],
    ['an imported role', stack => iam.Role.fromRoleArn(stack, 'Reader', READER)],
    ['an AccountPrincipal (INTERNAL keys may name another account\'s root)', () => new iam.AccountPrincipal(OTHER_ACCOUNT)],
  ];

  test.each(shapes)('%s: allowed through the service, with kms:CallerAccount its own', async (_shape, make) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, viaServices: ['s3'] });
    key.grantDecrypt(make(stack));
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    // The simulator sets kms:CallerAccount to the caller's account, as KMS does.
    expect(await sim.can(READER, 'kms:Decrypt', keyArn, { context: viaS3, identityPolicies: KMS_STAR })).toBe(true);
    expect(await sim.can(READER, 'kms:Decrypt', keyArn, { identityPolicies: KMS_STAR })).toBe(false);
  });

  test('a role of a stack in another account: allowed through the service from its account', async () => {
    const app = new App();
    const keys = new Stack(app, 'Keys', { env: { account: ACCOUNT, region: REGION } });
    const users = new Stack(app, 'Users', { env: { account: OTHER_ACCOUNT, region: REGION } });
    const key = new ClassifiedKey(keys, 'Key', { classification: DataClassification.CONFIDENTIAL, viaServices: ['s3'], monitoring: true });
    const reader = new iam.Role(users, 'Reader', { assumedBy: new iam.AccountRootPrincipal(), roleName: 'reader' });
    key.grantDecrypt(reader);
    app.synth();
    const sim = PolicySimulator.fromStack(keys);
    const keyArn = sim.keyArn(logicalId(key));
    const readerArn = `arn:aws:iam::${OTHER_ACCOUNT}:role/${users.resolve((reader.node.defaultChild as iam.CfnRole).roleName)}`;
    expect(await sim.can(readerArn, 'kms:Decrypt', keyArn, { context: viaS3, identityPolicies: KMS_STAR })).toBe(true);
    expect(await sim.can(`arn:aws:iam::${OTHER_ACCOUNT}:role/Other`, 'kms:Decrypt', keyArn, { context: viaS3, identityPolicies: KMS_STAR })).toBe(false);
  });
});

// -----------------------------------------------------------------------------
// Path 8: misuse that would fail only at run time
// -----------------------------------------------------------------------------

describe('every consumer is checked at synth (path 8)', () => {
  const synth = (build: (stack: Stack) => void) => () => {
    const stack = newStack();
    build(stack);
    (stack.node.root as App).synth();
  };

  test.each([
    ['an S3 bucket', 's3', (stack: Stack, key: ClassifiedKey) => new s3.Bucket(stack, 'Consumer', { encryptionKey: key, enforceSSL: true })],
    ['an SQS queue', 'sqs', (stack: Stack, key: ClassifiedKey) => new sqs.Queue(stack, 'Consumer', { encryptionMasterKey: key, enforceSSL: true })],
    ['a Kinesis stream', 'kinesis', (stack: Stack, key: ClassifiedKey) => new kinesis.Stream(stack, 'Consumer', { encryptionKey: key })],
  ])('a RESTRICTED key narrowed to DynamoDB behind %s fails at synth, naming the resource and its service', (_what, service, consume) => {
    expect(synth(stack => {
      const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['dynamodb'] });
      consume(stack, key);
    })).toThrow(new RegExp(`the key is used by TestStack/Consumer/Resource \\(AWS::[A-Za-z0-9]+::[A-Za-z]+\\) through ${service}, which is not in viaServices \\(dynamodb\\)`));
  });

  test.each([
    ['a signing key', kms.KeySpec.ECC_NIST_P256, kms.KeyUsage.SIGN_VERIFY],
    ['an HMAC key', kms.KeySpec.HMAC_256, kms.KeyUsage.GENERATE_VERIFY_MAC],
  ])('%s behind a bucket or a queue fails at synth', (_what, keySpec, keyUsage) => {
    for (const consume of [
      (stack: Stack, key: ClassifiedKey) => new s3.Bucket(stack, 'Consumer', { encryptionKey: key, enforceSSL: true }),
      (stack: Stack, key: ClassifiedKey) => new sqs.Queue(stack, 'Consumer', { encryptionMasterKey: key, enforceSSL: true }),
    ]) {
      expect(synth(stack => consume(stack, new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, keySpec, keyUsage }))))
        .toThrow(/which needs a symmetric encryption key, got keySpec/);
    }
  });

  test('a function given a signing key\'s ARN in its environment is no encryption use', () => {
    expect(synth(stack => {
      const key = new ClassifiedKey(stack, 'Key', {
        classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY,
      });
      const fn = new lambda.Function(stack, 'Signer', {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => {}'),
        environment: { KEY_ARN: key.keyArn },
      });
      key.grantSign(fn);
    })).not.toThrow();
  });

  test('a misspelt service fails at synth, suggesting the service', () => {
    const stack = newStack();
    expect(() => new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['dynamo'] }))
      .toThrow('viaServices entries must be services integrated with KMS, got "dynamo" (did you mean "dynamodb"?)');
  });

  test('a service the library does not list is accepted when named in extraViaServiceNames too', () => {
    const stack = newStack();
    expect(() => new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['newservice'] }))
      .toThrow(/extraViaServiceNames/);
    expect(() => new ClassifiedKey(stack, 'Key2', {
      classification: DataClassification.RESTRICTED, viaServices: ['newservice'], extraViaServiceNames: ['newservice'],
    })).not.toThrow();
  });

  test('every service of the library\'s own tables is one viaServices takes', () => {
    const services = [...Object.keys(SERVICES), 's3', 'sqs', 'sns'];
    expect(services.filter(s => !KNOWN_VIA_SERVICES.includes(s))).toEqual([]);
  });

  test('two keys with one alias fail at synth, in one stack or in two of one account and Region', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'First', { classification: DataClassification.INTERNAL, alias: 'alias/payments' });
    expect(() => new ClassifiedKey(stack, 'Second', { classification: DataClassification.INTERNAL, alias: 'alias/payments' }))
      .toThrow('alias must be unique in an account and Region, got "alias/payments" for TestStack/Second, which TestStack/First has already');
    const first = new ClassifiedKey(stack, 'Third', { classification: DataClassification.INTERNAL });
    expect(() => first.addAlias('alias/payments')).toThrow(/alias must be unique/);
    const other = new Stack(stack.node.root, 'Other', { env: { account: ACCOUNT, region: REGION } });
    expect(() => new ClassifiedKey(other, 'Key', { classification: DataClassification.INTERNAL, alias: 'alias/payments', monitoring: false }))
      .toThrow(/which TestStack\/First has already/);
    const elsewhere = new Stack(stack.node.root, 'Elsewhere', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    expect(() => new ClassifiedKey(elsewhere, 'Key', { classification: DataClassification.INTERNAL, alias: 'alias/payments', monitoring: false }))
      .not.toThrow();
  });
});

// -----------------------------------------------------------------------------
// Path 9: renaming another stack's role
// -----------------------------------------------------------------------------

describe('a role of another stack is never renamed behind the user\'s back (path 9)', () => {
  test('a grant to an unnamed role of another stack fails at synth, saying to give it a roleName', () => {
    const app = new App();
    const keys = new Stack(app, 'Keys', { env: { account: ACCOUNT, region: REGION } });
    const users = new Stack(app, 'Users', { env: { account: ACCOUNT, region: REGION } });
    const key = new ClassifiedKey(keys, 'Key', { classification: DataClassification.CONFIDENTIAL, monitoring: true });
    const reader = new iam.Role(users, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => key.grantDecrypt(reader)).toThrow(/must be given a role of another stack that has a roleName, got Users\/Reader without one.*Give the role a roleName/);
    expect(users.resolve((reader.node.defaultChild as iam.CfnRole).roleName)).toBeUndefined();
  });
});

// -----------------------------------------------------------------------------
// Path 7: a new Region's member made a replica of someone else's key
// -----------------------------------------------------------------------------

describe('a replica trusts only its set\'s primary (path 7)', () => {
  test('each replica Region\'s deploy role replicates the primary into its own Region only', async () => {
    const set = new MultiRegionKeySet(new App(), 'Orders', {
      account: ACCOUNT,
      primaryRegion: REGION,
      replicaRegions: ['eu-west-1', 'ap-southeast-2'],
      classification: DataClassification.CONFIDENTIAL,
      viaServices: ['dynamodb'],
    });
    const primary = attackable(set.primaryKey);
    const replicate = (role: string, region: string) => primary.sim.simulate({
      principalArn: role,
      action: 'kms:ReplicateKey',
      resourceArn: primary.keyArn,
      identityPolicies: KMS_STAR,
      context: { 'kms:ReplicaRegion': region },
    });
    expect(await replicate(deployRole('eu-west-1'), 'eu-west-1')).toBe('Allowed');
    expect(await replicate(deployRole('eu-west-1'), 'ap-southeast-2')).not.toBe('Allowed');
    expect(await replicate(deployRole('ap-southeast-2'), 'ap-southeast-2')).toBe('Allowed');
    expect(await replicate(deployRole('ap-southeast-2'), 'eu-west-1')).not.toBe('Allowed');
    expect(await replicate(KMS_STAR_PRINCIPAL, 'eu-west-1')).not.toBe('Allowed');
  });

  test('the lookup reads the primary stack\'s output and never the alias, which an IAM kms:* principal could not move anyway', async () => {
    // GIVEN the primary stack's output names the set's primary; whatever the alias names
    // (an attacker's multi-Region key of the same kind) is not asked
    const cloudformation = mockClient(CloudFormationClient);
    const kmsClient = mockClient(KMSClient);
    const event = customResourceEvent(LOOKUP_RESOURCE, 'Create');
    stackRecord(cloudformation);
    cloudformation.on(DescribeStacksCommand, { StackName: 'Orders-us-east-1' }).resolves(primaryStack());
    kmsClient.on(DescribeKeyCommand).resolves({ KeyMetadata: primaryKey() });
    const answer = await lookup(event);
    // THEN
    expect(answer.PhysicalResourceId).toBe(PRIMARY_ARN);
    expect(kmsClient.commandCalls(DescribeKeyCommand).map(call => call.args[0].input.KeyId)).toEqual([PRIMARY_ARN]);
    cloudformation.restore();
    kmsClient.restore();

    // AND moving the alias is a takeover action the key policy refuses to a kms:* principal (path 2)
    const target = attackable(new MultiRegionKeySet(new App(), 'Orders', {
      account: ACCOUNT, primaryRegion: REGION, replicaRegions: ['eu-west-1'], classification: DataClassification.CONFIDENTIAL, viaServices: ['dynamodb'],
    }).primaryKey);
    expect(await verdicts(target, KMS_STAR_PRINCIPAL, ['kms:UpdateAlias', 'kms:DeleteAlias'])).toEqual(all(['kms:UpdateAlias', 'kms:DeleteAlias'], 'ImplicitlyDenied'));
  });
});

// -----------------------------------------------------------------------------
// Path 6: grants the key cannot honour
// -----------------------------------------------------------------------------

describe('an identity-policy grant the key does not honour fails at synth (path 6)', () => {
  const synthOf = (stack: Stack) => () => (stack.node.root as App).synth();
  const UNHONOURED = /is allowed kms:Decrypt on the key by the identity policy .*, which the key does not honour: a ClassifiedKey obeys its key policy alone/;

  test('kms.KeyGrants.fromKey(key).decrypt(role) names the role and the call to use', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    kms.KeyGrants.fromKey(key).decrypt(role);
    // Names the principal, the policy and the call to use.
    expect(synthOf(stack)).toThrow(/TestStack\/Reader\/Resource \(AWS::IAM::Role\) is allowed kms:Decrypt on the key by the identity policy TestStack\/Reader\/DefaultPolicy\/Resource, which the key does not honour.*key\.grantDecrypt\(role\)/);
  });

  test('the facade on the admin role: administrators cannot use the key, whatever IAM says', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    kms.KeyGrants.fromKey(key).decrypt(key.adminRole);
    expect(synthOf(stack)).toThrow(/ConfidentialKeyAdmins\/Resource \(AWS::IAM::Role\) is allowed kms:Decrypt on the key/);
  });

  test('a hand-written identity statement naming key.keyArn', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:DescribeKey'], resources: [key.keyArn] }));
    expect(synthOf(stack)).toThrow(UNHONOURED);
  });

  test('a managed policy of a group: a key policy cannot name a group', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    new iam.ManagedPolicy(stack, 'Readers', {
      groups: [new iam.Group(stack, 'Analysts')],
      statements: [new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn] })],
    });
    expect(synthOf(stack)).toThrow(/Analysts\/Resource \(AWS::IAM::Group\) is allowed kms:Decrypt .*a key policy cannot name an IAM group/);
  });

  test('what the key policy grants too is honoured, and reading the key\'s settings always is', async () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDecrypt(role);
    kms.KeyGrants.fromKey(key).decrypt(role);
    const auditor = new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() });
    auditor.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:DescribeKey', 'kms:GetKeyRotationStatus'], resources: [key.keyArn] }));
    expect(synthOf(stack)).not.toThrow();
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    expect(await sim.can(sim.roleArn(logicalId(role)), 'kms:Decrypt', keyArn)).toBe(true);
    expect(await sim.can(sim.roleArn(logicalId(auditor)), 'kms:DescribeKey', keyArn)).toBe(true);
    expect(await sim.can(sim.roleArn(logicalId(auditor)), 'kms:Decrypt', keyArn, { identityPolicies: KMS_STAR })).toBe(false);
  });
});
