/**
 * Policy-evaluation tests of ClassifiedKey: every claim is proven by evaluating the
 * synthesized key policy, identity policies and trust policies with the policy
 * simulator (test/support/policy-sim.ts), never by matching JSON.
 *
 * Denials are asked with the most favourable context an honest request could carry
 * (the key's service, its encryption context, a grant for an AWS resource, MFA), so
 * that a denial never holds only because a context key is missing.
 */
import { CfnElement, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { IConstruct } from 'constructs';
import { ClassifiedKey, ClassifiedKeyProps, DataClassification } from '../src';
import { ContextValues, PolicyDocument, PolicySimulator, SimulationOptions } from './support/policy-sim';
import { ACCOUNT, newStack, OTHER_ACCOUNT, REGION } from './support/stack';

// -----------------------------------------------------------------------------
// Principals, services and contexts
// -----------------------------------------------------------------------------

/** An IAM principal of the key's account whose own policy allows kms:* on everything. */
const KMS_STAR_ADMIN = `arn:aws:iam::${ACCOUNT}:role/KmsStarAdmin`;
/** The default synthesizer's CloudFormation execution role: the deploy role. */
const DEPLOY_ROLE = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`;
/** A principal of another account, with kms:* in its own account. */
const ATTACKER = `arn:aws:iam::${OTHER_ACCOUNT}:role/Attacker`;
/** A human of the key's account, who may assume roles that trust the account. */
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const KMS_STAR = [PolicySimulator.allowPolicy('kms:*')];

const VIA_S3 = `s3.${REGION}.amazonaws.com`;
const VIA_DYNAMODB = `dynamodb.${REGION}.amazonaws.com`;
const VIA_SQS = `sqs.${REGION}.amazonaws.com`;

const ORG = 'o-a1b2c3d4e5';
const OTHER_ORG = 'o-z9y8x7w6v5';

const WITH_MFA: ContextValues = { 'aws:MultiFactorAuthPresent': 'true' };

// -----------------------------------------------------------------------------
// Actions, written out here rather than imported from src/ so that the tests state
// the claims independently of the implementation.
// -----------------------------------------------------------------------------

const SYMMETRIC_USE = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
];
const RSA_ENCRYPTION_USE = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GetPublicKey'];
const SIGNING_USE = ['kms:Sign', 'kms:Verify', 'kms:GetPublicKey'];
const HMAC_USE = ['kms:GenerateMac', 'kms:VerifyMac'];
const KEY_AGREEMENT_USE = ['kms:DeriveSharedSecret', 'kms:GetPublicKey'];

/** Every action that uses a key, of any usage. */
const ALL_USE = [...new Set([...SYMMETRIC_USE, ...RSA_ENCRYPTION_USE, ...SIGNING_USE, ...HMAC_USE, ...KEY_AGREEMENT_USE])];
/** Every action that uses a key, and creating grants that hand use on. */
const CRYPTOGRAPHIC = [...ALL_USE, 'kms:CreateGrant'];

/** Actions that change how a key is managed. */
const MANAGEMENT = [
  'kms:PutKeyPolicy',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:UpdateKeyDescription',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:GetParametersForImport',
  'kms:ImportKeyMaterial',
  'kms:DeleteImportedKeyMaterial',
  'kms:ReplicateKey',
  'kms:UpdatePrimaryRegion',
];

/** What the key's administrators do, for every key. */
const ADMINISTRATION = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:UpdateKeyDescription',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:ListGrants',
  'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];
/** What the key's administrators also do for keys that KMS rotates. */
const ROTATION_ADMINISTRATION = [
  'kms:GetKeyRotationStatus',
  'kms:ListKeyRotations',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
];
const IMPORT = ['kms:GetParametersForImport', 'kms:ImportKeyMaterial', 'kms:DeleteImportedKeyMaterial'];

/** Actions whose requests carry an encryption context. */
const TAKES_ENCRYPTION_CONTEXT = SYMMETRIC_USE;
const GRANT_ACTIONS = ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'];

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

type Verdict = 'allowed' | 'denied';

/** How a key narrows its use: what a legitimate request carries. */
interface Narrowing {
  /** `kms:ViaService` of requests that come through the key's service. */
  readonly viaService?: string;
  /** An encryption context key every request that takes an encryption context must carry. */
  readonly encryptionContextKey?: string;
}

/**
 * The context of a legitimate request for `action` on a key narrowed by `n`: through
 * its service, with its encryption context, and grants only for AWS resources.
 */
function legitimateContext(n: Narrowing, action: string): ContextValues {
  const context: ContextValues = {};
  if (n.viaService) context['kms:ViaService'] = n.viaService;
  if (n.encryptionContextKey && TAKES_ENCRYPTION_CONTEXT.includes(action)) {
    context[`kms:EncryptionContext:${n.encryptionContextKey}`] = 'tenant-42';
  }
  if (GRANT_ACTIONS.includes(action)) context['kms:GrantIsForAWSResource'] = 'true';
  return context;
}

/** The context of a direct request, as administrators make: legitimate, but not through a service. */
function directContext(n: Narrowing, action: string): ContextValues {
  return legitimateContext({ ...n, viaService: undefined }, action);
}

/** The most favourable context for `action`: a legitimate request, signed in with MFA. For denials. */
function favourableContext(n: Narrowing, action: string): ContextValues {
  return { ...legitimateContext(n, action), ...WITH_MFA };
}

/** A synthesized stack with one ClassifiedKey, ready to be simulated. */
interface Fixture {
  readonly stack: Stack;
  readonly key: ClassifiedKey;
  readonly sim: PolicySimulator;
  readonly keyArn: string;
  readonly adminRoleId: string;
  readonly adminArn: string;
  readonly userArn: string;
  /** Whether each action is allowed to `principalArn` on the key, with per-action options. */
  verdicts(principalArn: string, actions: readonly string[], options: (action: string) => SimulationOptions): Promise<Record<string, Verdict>>;
  /** The ARN of a role of the template. */
  roleArn(role: IConstruct): string;
}

/** The logical id of a construct's CloudFormation resource. */
function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** Synthesizes a stack with a ClassifiedKey `Key` and whatever `extra` adds. */
function synthesize(props: ClassifiedKeyProps, extra?: (stack: Stack, key: ClassifiedKey) => void): Fixture {
  const stack = newStack();
  const key = new ClassifiedKey(stack, 'Key', props);
  extra?.(stack, key);
  // Read before synthesis: a key makes its user role when it is first asked for.
  const userRole = key.userRole;
  const sim = PolicySimulator.fromStack(stack);
  const keyArn = sim.keyArn(logicalId(stack, key));
  const adminRoleId = logicalId(stack, key.adminRole);
  return {
    stack,
    key,
    sim,
    keyArn,
    adminRoleId,
    adminArn: sim.roleArn(adminRoleId),
    userArn: sim.roleArn(logicalId(stack, userRole)),
    roleArn: (role) => sim.roleArn(logicalId(stack, role)),
    async verdicts(principalArn, actions, options) {
      const result: Record<string, Verdict> = {};
      for (const action of actions) {
        const decision = await sim.simulate({ ...options(action), principalArn, action, resourceArn: keyArn });
        result[action] = decision === 'Allowed' ? 'allowed' : 'denied';
      }
      return result;
    },
  };
}

/** `context` without `key`. */
function without(context: ContextValues, key: string): ContextValues {
  return Object.fromEntries(Object.entries(context).filter(([k]) => k !== key));
}

/** The same verdict for every action, to compare with `Fixture.verdicts` (the diff names the odd action). */
function every(actions: readonly string[], verdict: Verdict): Record<string, Verdict> {
  return Object.fromEntries(actions.map(action => [action, verdict]));
}

// -----------------------------------------------------------------------------
// 1. Separation of duties, for each key usage and classification
// -----------------------------------------------------------------------------

interface KeyCase extends Narrowing {
  readonly name: string;
  readonly props: ClassifiedKeyProps;
  /** The actions of the key's usage, which its user role may perform. */
  readonly use: string[];
  /** Whether KMS rotates the key, so that its administrators manage rotation. */
  readonly rotates: boolean;
  /** Whether the admin role's trust policy requires MFA. */
  readonly adminNeedsMfa: boolean;
}

const KEY_CASES: KeyCase[] = [
  {
    name: 'INTERNAL symmetric key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)',
    props: { classification: DataClassification.INTERNAL },
    use: SYMMETRIC_USE,
    rotates: true,
    adminNeedsMfa: false,
  },
  {
    name: 'INTERNAL RSA encryption key (RSA_3072, ENCRYPT_DECRYPT)',
    props: { classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.RSA_3072, keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT },
    use: RSA_ENCRYPTION_USE,
    rotates: false,
    adminNeedsMfa: false,
  },
  {
    name: 'INTERNAL signing key (ECC_NIST_P256, SIGN_VERIFY)',
    props: { classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY },
    use: SIGNING_USE,
    rotates: false,
    adminNeedsMfa: false,
  },
  {
    name: 'INTERNAL HMAC key (HMAC_256, GENERATE_VERIFY_MAC)',
    props: { classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.HMAC_256 },
    use: HMAC_USE,
    rotates: false,
    adminNeedsMfa: false,
  },
  {
    name: 'INTERNAL key agreement key (ECC_NIST_P384, KEY_AGREEMENT)',
    props: { classification: DataClassification.INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P384, keyUsage: kms.KeyUsage.KEY_AGREEMENT },
    use: KEY_AGREEMENT_USE,
    rotates: false,
    adminNeedsMfa: false,
  },
  {
    name: 'CONFIDENTIAL symmetric key',
    props: { classification: DataClassification.CONFIDENTIAL },
    use: SYMMETRIC_USE,
    rotates: true,
    adminNeedsMfa: true,
  },
  {
    name: 'RESTRICTED symmetric key used through S3 (viaServices)',
    props: { classification: DataClassification.RESTRICTED, viaServices: ['s3'] },
    use: SYMMETRIC_USE,
    rotates: true,
    adminNeedsMfa: true,
    viaService: VIA_S3,
  },
  {
    name: 'RESTRICTED symmetric key used with a tenant encryption context (encryptionContextKeys)',
    props: { classification: DataClassification.RESTRICTED, encryptionContextKeys: ['tenant'] },
    use: SYMMETRIC_USE,
    rotates: true,
    adminNeedsMfa: true,
    encryptionContextKey: 'tenant',
  },
];

describe.each(KEY_CASES)('$name', (c) => {
  const userAllowed = ['kms:DescribeKey', ...c.use];
  const otherUsages = ALL_USE.filter(action => !c.use.includes(action));
  const adminAllowed = [...ADMINISTRATION, ...(c.rotates ? ROTATION_ADMINISTRATION : [])];
  const legitimate = (action: string): SimulationOptions => ({ context: legitimateContext(c, action) });
  const direct = (action: string): SimulationOptions => ({ context: directContext(c, action) });
  const favourable = (action: string): SimulationOptions => ({ context: favourableContext(c, action) });
  const withKmsStar = (action: string): SimulationOptions => ({ identityPolicies: KMS_STAR, context: favourableContext(c, action) });

  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize(c.props);
  });

  describe('the user role', () => {
    test('is allowed every action of the key usage', async () => {
      expect(await fx.verdicts(fx.userArn, userAllowed, legitimate)).toEqual(every(userAllowed, 'allowed'));
    });

    test('is DENIED every administrative action', async () => {
      expect(await fx.verdicts(fx.userArn, MANAGEMENT, favourable)).toEqual(every(MANAGEMENT, 'denied'));
    });

    test('is DENIED the actions of other key usages', async () => {
      expect(await fx.verdicts(fx.userArn, otherUsages, favourable)).toEqual(every(otherUsages, 'denied'));
    });

    test('may create grants for AWS resources only', async () => {
      // GIVEN grant requests like the user's others, by whether an AWS service makes the grant for its resource
      const grant = (context: ContextValues) => fx.sim.can(fx.userArn, 'kms:CreateGrant', fx.keyArn, { context });
      const request = favourableContext(c, 'kms:CreateGrant');
      // THEN
      expect(await grant({ ...request, 'kms:GrantIsForAWSResource': 'true' })).toBe(true);
      expect(await grant({ ...request, 'kms:GrantIsForAWSResource': 'false' })).toBe(false);
      expect(await grant(without(request, 'kms:GrantIsForAWSResource'))).toBe(false);
    });
  });

  describe('the admin role', () => {
    test('is allowed to administer the key', async () => {
      expect(await fx.verdicts(fx.adminArn, adminAllowed, direct)).toEqual(every(adminAllowed, 'allowed'));
    });

    test('is DENIED every cryptographic action', async () => {
      expect(await fx.verdicts(fx.adminArn, CRYPTOGRAPHIC, favourable)).toEqual(every(CRYPTOGRAPHIC, 'denied'));
    });

    if (c.adminNeedsMfa) {
      test('may be assumed only with MFA', async () => {
        expect(await fx.sim.canAssume(fx.adminRoleId, ALICE, { 'aws:MultiFactorAuthPresent': 'true' })).toBe(true);
        expect(await fx.sim.canAssume(fx.adminRoleId, ALICE)).toBe(false);
        expect(await fx.sim.canAssume(fx.adminRoleId, ALICE, { 'aws:MultiFactorAuthPresent': 'false' })).toBe(false);
        // The trust principal is this account: MFA does not let another account in.
        expect(await fx.sim.canAssume(fx.adminRoleId, ATTACKER, { 'aws:MultiFactorAuthPresent': 'true' })).toBe(false);
      });
    } else {
      test('may be assumed from this account without MFA, and not from another account', async () => {
        expect(await fx.sim.canAssume(fx.adminRoleId, ALICE)).toBe(true);
        expect(await fx.sim.canAssume(fx.adminRoleId, ATTACKER, { 'aws:MultiFactorAuthPresent': 'true' })).toBe(false);
      });
    }
  });

  describe('an IAM principal of this account with kms:* in its identity policy', () => {
    test('is DENIED every cryptographic action', async () => {
      expect(await fx.verdicts(KMS_STAR_ADMIN, CRYPTOGRAPHIC, withKmsStar)).toEqual(every(CRYPTOGRAPHIC, 'denied'));
    });

    test('may read the key\'s settings through its own policy (AWS Config, inventories)', async () => {
      const reads = adminAllowed.filter(a => /^kms:(Describe|Get|List)/.test(a));
      const directly = (action: string) => ({ identityPolicies: KMS_STAR, context: directContext(c, action) });
      expect(await fx.verdicts(KMS_STAR_ADMIN, reads, directly)).toEqual(every(reads, 'allowed'));
      // Only through its own policy: the key policy delegates to IAM, it names no one.
      expect(await fx.sim.can(KMS_STAR_ADMIN, 'kms:DescribeKey', fx.keyArn, { context: directContext(c, 'kms:DescribeKey') })).toBe(false);
    });

    test('is DENIED every change: lifecycle, aliases, tags, rotation, grants and the key policy', async () => {
      // The lockout guard lets only the deploy role and the root user through the account.
      const changes = [...MANAGEMENT, 'kms:RevokeGrant'];
      expect(await fx.verdicts(KMS_STAR_ADMIN, changes, withKmsStar)).toEqual(every(changes, 'denied'));
    });

    test('the deploy role and the account\'s root user may manage the key and change its policy, so it is never locked out', async () => {
      const changes = adminAllowed.filter(a => !/^kms:(Describe|Get|List)/.test(a));
      const allowedByIam = (_action: string) => ({ identityPolicies: KMS_STAR });
      expect(await fx.verdicts(DEPLOY_ROLE, changes, allowedByIam)).toEqual(every(changes, 'allowed'));
      expect(await fx.verdicts(`arn:aws:iam::${ACCOUNT}:root`, changes, () => ({}))).toEqual(every(changes, 'allowed'));
      // The deploy role needs its own IAM permission too: the key policy delegates to the account.
      expect(await fx.verdicts(DEPLOY_ROLE, ['kms:PutKeyPolicy'], () => ({}))).toEqual({ 'kms:PutKeyPolicy': 'denied' });
    });
  });

  test('a principal of another account is DENIED everything, even with kms:*', async () => {
    const everything = [...CRYPTOGRAPHIC, ...adminAllowed];
    expect(await fx.verdicts(ATTACKER, everything, withKmsStar)).toEqual(every(everything, 'denied'));
  });
});

// -----------------------------------------------------------------------------
// Narrowed use: viaServices and encryptionContextKeys
// -----------------------------------------------------------------------------

describe('RESTRICTED key with viaServices [s3]', () => {
  const narrowing: Narrowing = { viaService: VIA_S3 };
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.RESTRICTED, viaServices: ['s3'] });
  });

  test('the user role is allowed to use the key through S3', async () => {
    const via = (action: string) => ({ context: legitimateContext(narrowing, action) });
    expect(await fx.verdicts(fx.userArn, SYMMETRIC_USE, via)).toEqual(every(SYMMETRIC_USE, 'allowed'));
  });

  test.each([
    ['through DynamoDB', { viaService: VIA_DYNAMODB }],
    ['directly (no kms:ViaService)', {}],
  ])('the user role is DENIED use %s', async (_how, other: Narrowing) => {
    const outside = (action: string) => ({ context: favourableContext(other, action) });
    expect(await fx.verdicts(fx.userArn, SYMMETRIC_USE, outside)).toEqual(every(SYMMETRIC_USE, 'denied'));
  });
});

describe('encryptionContextKeys [tenant]', () => {
  const narrowing: Narrowing = { encryptionContextKey: 'tenant' };
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.RESTRICTED, encryptionContextKeys: ['tenant'] });
  });

  test('the user role is allowed to decrypt with a tenant in the encryption context', async () => {
    expect(await fx.sim.can(fx.userArn, 'kms:Decrypt', fx.keyArn, { context: legitimateContext(narrowing, 'kms:Decrypt') })).toBe(true);
  });

  test('the user role is DENIED use without a tenant in the encryption context', async () => {
    // GIVEN requests with no encryption context, or one without the tenant key
    const none = (): SimulationOptions => ({ context: WITH_MFA });
    const otherKey = (): SimulationOptions => ({ context: { ...WITH_MFA, 'kms:EncryptionContext:project': 'tenant-42' } });
    // THEN every action that takes an encryption context is denied
    expect(await fx.verdicts(fx.userArn, TAKES_ENCRYPTION_CONTEXT, none)).toEqual(every(TAKES_ENCRYPTION_CONTEXT, 'denied'));
    expect(await fx.verdicts(fx.userArn, TAKES_ENCRYPTION_CONTEXT, otherKey)).toEqual(every(TAKES_ENCRYPTION_CONTEXT, 'denied'));
  });

  test('the user role may still describe the key, which takes no encryption context', async () => {
    expect(await fx.sim.can(fx.userArn, 'kms:DescribeKey', fx.keyArn)).toBe(true);
  });
});

// -----------------------------------------------------------------------------
// 2, 3. Consumers through their services, and grant methods
// -----------------------------------------------------------------------------

describe('CONFIDENTIAL key as the encryption key of S3, DynamoDB and SQS', () => {
  let fx: Fixture;
  const roles: Record<string, iam.Role> = {};
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.CONFIDENTIAL }, (stack, key) => {
      for (const id of ['BucketReader', 'TableReaderWriter', 'QueueSender']) {
        roles[id] = new iam.Role(stack, id, { assumedBy: new iam.AccountRootPrincipal() });
      }
      new s3.Bucket(stack, 'Bucket', { encryptionKey: key }).grantRead(roles.BucketReader);
      new dynamodb.Table(stack, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: key,
      }).grantReadWriteData(roles.TableReaderWriter);
      new sqs.Queue(stack, 'Queue', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }).grantSendMessages(roles.QueueSender);
    });
  });

  test.each([
    {
      consumer: 'BucketReader',
      grant: 'bucket.grantRead',
      service: 'S3',
      via: VIA_S3,
      allowed: ['kms:Decrypt'],
      // It was only given read.
      denied: ['kms:Encrypt', 'kms:GenerateDataKey'],
    },
    {
      consumer: 'TableReaderWriter',
      grant: 'table.grantReadWriteData',
      service: 'DynamoDB',
      via: VIA_DYNAMODB,
      allowed: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      denied: [],
    },
    {
      consumer: 'QueueSender',
      grant: 'queue.grantSendMessages',
      service: 'SQS',
      via: VIA_SQS,
      allowed: ['kms:GenerateDataKey', 'kms:Decrypt'],
      denied: [],
    },
  ])('$consumer ($grant) is allowed the key actions it needs through $service, and DENIED the rest', async ({ consumer, via, allowed, denied }) => {
    // GIVEN requests that come through the consumer's service
    const arn = fx.roleArn(roles[consumer]);
    const through = (action: string) => ({ context: legitimateContext({ viaService: via }, action) });
    const favourably = (action: string) => ({ context: favourableContext({ viaService: via }, action) });
    const administration = ['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DisableKey'];
    // THEN
    expect(await fx.verdicts(arn, allowed, through)).toEqual(every(allowed, 'allowed'));
    expect(await fx.verdicts(arn, [...denied, ...administration], favourably)).toEqual(every([...denied, ...administration], 'denied'));
  });
});

describe('CONFIDENTIAL key with viaServices [s3] as the encryption key of a bucket', () => {
  let fx: Fixture;
  let reader: iam.Role;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.CONFIDENTIAL, viaServices: ['s3'] }, (stack, key) => {
      reader = new iam.Role(stack, 'BucketReader', { assumedBy: new iam.AccountRootPrincipal() });
      new s3.Bucket(stack, 'Bucket', { encryptionKey: key }).grantRead(reader);
    });
  });

  test.each([
    ['allowed through S3', VIA_S3, true],
    ['DENIED through DynamoDB', VIA_DYNAMODB, false],
    ['DENIED directly (no kms:ViaService)', undefined, false],
  ])('the bucket reader is %s', async (_how, via, allowed) => {
    // GIVEN the same decrypt request, by the service it comes through
    const context: ContextValues = via === undefined ? {} : { 'kms:ViaService': via };
    // THEN
    expect(await fx.sim.can(fx.roleArn(reader), 'kms:Decrypt', fx.keyArn, { context })).toBe(allowed);
  });
});

describe('grantDecrypt on a CONFIDENTIAL key', () => {
  let fx: Fixture;
  let grantee: iam.Role;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.CONFIDENTIAL }, (stack, key) => {
      grantee = new iam.Role(stack, 'Decrypter', { assumedBy: new iam.AccountRootPrincipal() });
      key.grantDecrypt(grantee);
    });
  });

  test('the grantee is allowed to decrypt', async () => {
    expect(await fx.sim.can(fx.roleArn(grantee), 'kms:Decrypt', fx.keyArn)).toBe(true);
  });

  test('the grantee is DENIED encryption and administration', async () => {
    const denied = ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptTo', 'kms:CreateGrant', 'kms:PutKeyPolicy'];
    const favourable = (action: string) => ({ context: favourableContext({}, action) });
    expect(await fx.verdicts(fx.roleArn(grantee), denied, favourable)).toEqual(every(denied, 'denied'));
  });
});

// -----------------------------------------------------------------------------
// 4. Organization guard
// -----------------------------------------------------------------------------

describe('INTERNAL key with organizationId and allowAccountRootCryptography', () => {
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.INTERNAL, organizationId: ORG, allowAccountRootCryptography: true }, (_stack, key) => {
      // An AWS service writing with the key, through the escape hatch.
      key.addToResourcePolicy(new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
      }));
    });
  });

  const decide = (principalArn: string, action: string, context: ContextValues, identityPolicies: PolicyDocument[] = []) =>
    fx.sim.simulate({ principalArn, action, resourceArn: fx.keyArn, context, identityPolicies });

  test('the user role is allowed to decrypt from inside the organization', async () => {
    expect(await decide(fx.userArn, 'kms:Decrypt', { 'aws:PrincipalOrgID': ORG })).toBe('Allowed');
  });

  test.each([
    ['from another organization', { 'aws:PrincipalOrgID': OTHER_ORG }],
    ['from outside any organization', {}],
  ])('the user role is EXPLICITLY DENIED decryption %s', async (_where, context) => {
    expect(await decide(fx.userArn, 'kms:Decrypt', context)).toBe('ExplicitlyDenied');
  });

  test('the admin role is allowed to administer from inside the organization, EXPLICITLY DENIED from another', async () => {
    expect(await decide(fx.adminArn, 'kms:PutKeyPolicy', { 'aws:PrincipalOrgID': ORG })).toBe('Allowed');
    expect(await decide(fx.adminArn, 'kms:PutKeyPolicy', { 'aws:PrincipalOrgID': OTHER_ORG })).toBe('ExplicitlyDenied');
  });

  test('an IAM principal of this account with kms:* is allowed to decrypt (opt-in) only from inside the organization', async () => {
    expect(await decide(KMS_STAR_ADMIN, 'kms:Decrypt', { 'aws:PrincipalOrgID': ORG }, KMS_STAR)).toBe('Allowed');
    expect(await decide(KMS_STAR_ADMIN, 'kms:Decrypt', { 'aws:PrincipalOrgID': OTHER_ORG }, KMS_STAR)).toBe('ExplicitlyDenied');
    expect(await decide(KMS_STAR_ADMIN, 'kms:PutKeyPolicy', { 'aws:PrincipalOrgID': OTHER_ORG }, KMS_STAR)).toBe('ExplicitlyDenied');
  });

  test('a principal of another account in the same organization is DENIED, even with kms:*', async () => {
    for (const action of ['kms:Decrypt', 'kms:Encrypt', 'kms:PutKeyPolicy', 'kms:DescribeKey']) {
      expect(await fx.sim.can(ATTACKER, action, fx.keyArn, { context: { 'aws:PrincipalOrgID': ORG }, identityPolicies: KMS_STAR })).toBe(false);
    }
  });

  test('an AWS service principal is not hit by the organization guard', async () => {
    // GIVEN a service principal, which has no aws:PrincipalOrgID
    const trail = { 'aws:SourceAccount': ACCOUNT };
    // THEN its allow statement holds, and what it is not allowed is not explicitly denied
    expect(await decide('cloudtrail.amazonaws.com', 'kms:GenerateDataKey', trail)).toBe('Allowed');
    expect(await decide('cloudtrail.amazonaws.com', 'kms:Decrypt', trail)).toBe('ImplicitlyDenied');
  });
});

describe('grants that are not for an AWS resource (Control Tower CT.KMS.PR.3)', () => {
  // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
  let fx: Fixture;
  let brokerArn: string;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.INTERNAL, allowAccountRootCryptography: true }, (stack, key) => {
      // A principal the key policy allows kms:CreateGrant with no condition, through the escape hatch.
      const broker = new iam.Role(stack, 'Broker', { assumedBy: new iam.AccountRootPrincipal() });
      key.addToResourcePolicy(new iam.PolicyStatement({ principals: [broker], actions: ['kms:CreateGrant'], resources: ['*'] }));
    });
    brokerArn = fx.roleArn(fx.stack.node.findChild('Broker'));
  });

  const decide = (principalArn: string, context: ContextValues, identityPolicies: PolicyDocument[] = []) =>
    fx.sim.simulate({ principalArn, action: 'kms:CreateGrant', resourceArn: fx.keyArn, context, identityPolicies });

  test.each([
    ['the key policy allows it', () => brokerArn, [] as PolicyDocument[]],
    ['IAM allows kms:* and the account root may use the key', () => KMS_STAR_ADMIN, KMS_STAR],
    ['it is the user role', () => fx.userArn, [] as PolicyDocument[]],
  ])('a direct CreateGrant is EXPLICITLY DENIED although %s', async (_why, principal, identityPolicies) => {
    expect(await decide(principal(), { 'kms:GrantIsForAWSResource': 'false' }, identityPolicies)).toBe('ExplicitlyDenied');
    expect(await decide(principal(), {}, identityPolicies)).toBe('ExplicitlyDenied');
  });

  test('a grant an AWS service creates for its resource is allowed to a principal the key policy allows', async () => {
    expect(await decide(brokerArn, { 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
    expect(await decide(fx.userArn, { 'kms:GrantIsForAWSResource': 'true' })).toBe('Allowed');
  });

  test('an AWS service principal calling CreateGrant itself is not hit by the deny', async () => {
    // aws:PrincipalIsAWSService is true for a service principal; nothing allows it here either.
    expect(await decide('dynamodb.amazonaws.com', {})).toBe('ImplicitlyDenied');
  });
});

// -----------------------------------------------------------------------------
// 6. Account root cryptography opt-in
// -----------------------------------------------------------------------------

describe.each([
  { optIn: true, verdict: 'allowed' as Verdict },
  { optIn: false, verdict: 'denied' as Verdict },
])('INTERNAL key with allowAccountRootCryptography: $optIn', ({ optIn, verdict }) => {
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.INTERNAL, allowAccountRootCryptography: optIn });
  });

  test(`an IAM principal of this account with kms:* is ${verdict} use of the key`, async () => {
    const withKmsStar = (action: string) => ({ identityPolicies: KMS_STAR, context: legitimateContext({}, action) });
    expect(await fx.verdicts(KMS_STAR_ADMIN, SYMMETRIC_USE, withKmsStar)).toEqual(every(SYMMETRIC_USE, verdict));
  });

  test('an IAM principal of this account without an identity policy is DENIED use', async () => {
    expect(await fx.sim.can(KMS_STAR_ADMIN, 'kms:Decrypt', fx.keyArn)).toBe(false);
  });

  test('the admin role is still DENIED use', async () => {
    const favourable = (action: string) => ({ context: favourableContext({}, action) });
    expect(await fx.verdicts(fx.adminArn, CRYPTOGRAPHIC, favourable)).toEqual(every(CRYPTOGRAPHIC, 'denied'));
  });
});

// -----------------------------------------------------------------------------
// 7. Imported key material
// -----------------------------------------------------------------------------

describe('INTERNAL key with importKeyMaterial', () => {
  let fx: Fixture;
  beforeAll(() => {
    fx = synthesize({ classification: DataClassification.INTERNAL, importKeyMaterial: true });
  });
  const plain = () => ({ context: WITH_MFA });
  const withKmsStar = () => ({ identityPolicies: KMS_STAR, context: WITH_MFA });

  test('the admin role is allowed to import and delete key material', async () => {
    expect(await fx.verdicts(fx.adminArn, IMPORT, () => ({}))).toEqual(every(IMPORT, 'allowed'));
  });

  test('an IAM principal of this account with kms:* is DENIED import and administration', async () => {
    expect(await fx.verdicts(KMS_STAR_ADMIN, IMPORT, withKmsStar)).toEqual(every(IMPORT, 'denied'));
    expect(await fx.sim.can(KMS_STAR_ADMIN, 'kms:ScheduleKeyDeletion', fx.keyArn, { identityPolicies: KMS_STAR })).toBe(false);
  });

  test('the user role is DENIED import', async () => {
    expect(await fx.verdicts(fx.userArn, IMPORT, plain)).toEqual(every(IMPORT, 'denied'));
  });
});

// -----------------------------------------------------------------------------
// Adopted admin role of a CONFIDENTIAL key
// -----------------------------------------------------------------------------

describe('CONFIDENTIAL key with an adopted admin role', () => {
  const ADOPTED_ADMIN = `arn:aws:iam::${ACCOUNT}:role/KeyAdmins`;
  let sim: PolicySimulator;
  let keyArn: string;
  beforeAll(() => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', {
      classification: DataClassification.CONFIDENTIAL,
      adminRole: iam.Role.fromRoleArn(stack, 'Adopted', ADOPTED_ADMIN),
    });
    sim = PolicySimulator.fromStack(stack);
    keyArn = sim.keyArn(logicalId(stack, key));
  });

  test.each([
    ['allowed with MFA', 'true', true],
    ['DENIED without MFA, even with kms:* in its own policy', 'false', false],
  ])('the adopted admin is %s', async (_how, mfa, allowed) => {
    // GIVEN an adopted role whose own identity policy allows kms:*, so that the account
    // root's lockout guard would let it in if nothing asked for MFA
    const options = { identityPolicies: KMS_STAR, context: { 'aws:MultiFactorAuthPresent': mfa } };
    // THEN
    for (const action of ['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DisableKey']) {
      expect(await sim.can(ADOPTED_ADMIN, action, keyArn, options)).toBe(allowed);
    }
  });
});

// -----------------------------------------------------------------------------
// Every grant method hands out its own actions and no others
// -----------------------------------------------------------------------------

describe('grant methods', () => {
  type GrantMethod = (key: ClassifiedKey, grantee: iam.IGrantable) => iam.Grant;
  const cases: Array<[string, Partial<ClassifiedKeyProps>, GrantMethod, string[], string[]]> = [
    ['grantEncrypt on a symmetric key', {}, (k, g) => k.grantEncrypt(g),
      ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptTo'], ['kms:Decrypt', 'kms:ReEncryptFrom']],
    ['grantEncryptDecrypt on a symmetric key', {}, (k, g) => k.grantEncryptDecrypt(g),
      ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], ['kms:Sign', 'kms:PutKeyPolicy']],
    ['grantEncrypt on an RSA key', { keySpec: kms.KeySpec.RSA_4096, keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT }, (k, g) => k.grantEncrypt(g),
      ['kms:Encrypt', 'kms:GetPublicKey'], ['kms:Decrypt']],
    ['grantVerify on a signing key', { keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY }, (k, g) => k.grantVerify(g),
      ['kms:Verify', 'kms:GetPublicKey'], ['kms:Sign']],
    ['grantSignVerify on a signing key', { keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY }, (k, g) => k.grantSignVerify(g),
      ['kms:Sign', 'kms:Verify'], ['kms:PutKeyPolicy']],
    ['grantGenerateMac on an HMAC key', { keySpec: kms.KeySpec.HMAC_384 }, (k, g) => k.grantGenerateMac(g),
      ['kms:GenerateMac'], ['kms:VerifyMac']],
    ['grantVerifyMac on an HMAC key', { keySpec: kms.KeySpec.HMAC_384 }, (k, g) => k.grantVerifyMac(g),
      ['kms:VerifyMac'], ['kms:GenerateMac']],
    ['grantDeriveSharedSecret on a key agreement key', { keySpec: kms.KeySpec.ECC_NIST_P521, keyUsage: kms.KeyUsage.KEY_AGREEMENT },
      (k, g) => k.grantDeriveSharedSecret(g), ['kms:DeriveSharedSecret', 'kms:GetPublicKey'], ['kms:Sign']],
    ['grantAdmin', {}, (k, g) => k.grantAdmin(g),
      ['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DescribeKey'], ['kms:Decrypt', 'kms:Encrypt', 'kms:CreateGrant']],
  ];

  test.each(cases)('%s allows its actions and DENIES the others', async (_name, props, grant, allowed, denied) => {
    // GIVEN
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, ...props });
    const grantee = new iam.Role(stack, 'Grantee', { assumedBy: new iam.AccountRootPrincipal() });
    // WHEN
    grant(key, grantee);
    // THEN
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(stack, key));
    const granteeArn = sim.roleArn(logicalId(stack, grantee));
    // A CONFIDENTIAL key's administrators sign in with MFA.
    for (const action of allowed) expect([action, await sim.can(granteeArn, action, keyArn, { context: WITH_MFA })]).toEqual([action, true]);
    for (const action of denied) {
      const context = favourableContext({}, action);
      expect([action, await sim.can(granteeArn, action, keyArn, { context })]).toEqual([action, false]);
    }
  });

  test.each([
    [DataClassification.CONFIDENTIAL, 'ExplicitlyDenied'],
    [DataClassification.RESTRICTED, 'ExplicitlyDenied'],
    [DataClassification.INTERNAL, 'Allowed'],
  ])('grantAdmin on a %s key without MFA: %s, also through the lockout guard', async (classification, verdict) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification, viaServices: ['s3'] });
    const grantee = new iam.Role(stack, 'Ops', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantAdmin(grantee);
    // An identity policy that allows kms:* as well, so that the lockout guard would let it through.
    const sim = PolicySimulator.fromStack(stack);
    const decide = (context: ContextValues) => sim.simulate({
      principalArn: sim.roleArn(logicalId(stack, grantee)),
      action: 'kms:PutKeyPolicy',
      resourceArn: sim.keyArn(logicalId(stack, key)),
      context,
      identityPolicies: KMS_STAR,
    });
    expect(await decide({ 'aws:MultiFactorAuthPresent': 'false' })).toBe(verdict);
    expect(await decide({})).toBe(verdict);
    expect(await decide(WITH_MFA)).toBe('Allowed');
  });
});
