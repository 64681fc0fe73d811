/**
 * Keys shared by many roles: grantees by name in one compact statement, fleets of
 * roles under an IAM path (RolesUnderPath), and the size check that decides between
 * them. Every claim about who may do what is evaluated against the synthesized key
 * policy with the policy simulator, which sets `aws:PrincipalArn`,
 * `aws:PrincipalAccount` and `kms:CallerAccount` as AWS sets them.
 */
import { App, Aws, CfnElement, CfnParameter, Lazy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';
import * as fc from 'fast-check';
import { ClassifiedKey, DataClassification, MultiRegionKeySet, RolesUnderPath } from '../src';
import { PolicySimulator } from './support/policy-sim';
import { ACCOUNT, newStack, OTHER_ACCOUNT, REGION } from './support/stack';
import { adminPrincipal } from '../src/key/key-roles';
import { PolicySizeEstimator } from '../src/key/policy-size';

const KMS_STAR = [PolicySimulator.allowPolicy('kms:*')];
const POWER_USER = `arn:aws:iam::${ACCOUNT}:role/PowerUser`;
const TAKEOVER = [
  'kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:UpdateAlias', 'kms:DeleteAlias', 'kms:CreateAlias', 'kms:TagResource',
  'kms:UntagResource', 'kms:PutKeyPolicy', 'kms:UpdateKeyDescription', 'kms:DisableKeyRotation', 'kms:EnableKey',
];
const USE = ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptTo', 'kms:CreateGrant'];
const fleetRole = (name: string, path = '/payments/readers/', account = ACCOUNT) => `arn:aws:iam::${account}:role${path}${name}`;
const logicalId = (construct: IConstruct) => Stack.of(construct).resolve((construct.node.defaultChild as CfnElement).logicalId) as string;

function keyPolicyOf(stack: Stack): any {
  const keys = Template.fromStack(stack).findResources('AWS::KMS::Key');
  const own = Object.entries<any>(keys).find(([id]) => !id.includes('AuditKey'));
  return own![1].Properties.KeyPolicy;
}

describe('ClassifiedKey.rolesUnderPath', () => {
  test.each([
    ['/', /must not be '\/': every role of the account is under it/],
    ['payments/', /must start and end with '\/'/],
    ['/payments', /must start and end with '\/'/],
    ['/pay ments/', /printable ASCII/],
    ['/payments/*/', /must not contain '\*', '\?' or '\$', got '\/payments\/\*\/'/],
    ['/payments/reader?/', /must not contain/],
    ['/${aws:username}/', /must not contain/],
  ])('refuses the path %s', (path, message) => {
    expect(() => ClassifiedKey.rolesUnderPath(path)).toThrow(message);
  });

  test('refuses a path known only at deploy time', () => {
    expect(() => ClassifiedKey.rolesUnderPath(Aws.STACK_NAME)).toThrow(/path must be known at synth/);
  });

  test('is recognised across copies of the library', () => {
    const fleet = ClassifiedKey.rolesUnderPath('/payments/readers/');
    expect(RolesUnderPath.isRolesUnderPath(fleet)).toBe(true);
    expect(RolesUnderPath.isRolesUnderPath(new iam.ArnPrincipal(fleetRole('x')))).toBe(false);
    expect(fleet.path).toBe('/payments/readers/');
  });

  test('a RESTRICTED key refuses a fleet unless allowFleetGrants is set, naming the prop and the path', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.RESTRICTED, viaServices: ['s3'] });
    expect(() => key.grantDecrypt(ClassifiedKey.rolesUnderPath('/payments/readers/'))).toThrow(
      /grantDecrypt must not be given RolesUnderPath\(\/payments\/readers\/\) for a RESTRICTED key without allowFleetGrants: anyone who can create a role under \/payments\/readers\/ could then use the key/,
    );
    const optedIn = new ClassifiedKey(stack, 'OptedIn', { classification: DataClassification.RESTRICTED, viaServices: ['s3'], allowFleetGrants: true });
    expect(() => optedIn.grantDecrypt(ClassifiedKey.rolesUnderPath('/payments/readers/'))).not.toThrow();
  });

  test('a fleet wrapped in conditions is every principal to the key, and refused', () => {
    const key = new ClassifiedKey(newStack(), 'Key', { classification: DataClassification.INTERNAL });
    const wrapped = ClassifiedKey.rolesUnderPath('/payments/readers/').withConditions({ Bool: { 'aws:SecureTransport': 'true' } });
    expect(() => key.grantDecrypt(wrapped)).toThrow(/grantDecrypt must not be given every principal/);
  });

  test('allowFleetGrants: false refuses fleets at any classification', () => {
    const key = new ClassifiedKey(newStack(), 'Key', { classification: DataClassification.INTERNAL, allowFleetGrants: false });
    expect(() => key.grantEncryptDecrypt(ClassifiedKey.rolesUnderPath('/batch/'))).toThrow(/for a INTERNAL key without allowFleetGrants/);
  });
});

describe('a CONFIDENTIAL key granted to every role under /payments/readers/', () => {
  let sim: PolicySimulator;
  let keyArn: string;
  let policy: any;
  beforeAll(() => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    key.grantDecrypt(ClassifiedKey.rolesUnderPath('/payments/readers/'));
    sim = PolicySimulator.fromStack(stack);
    keyArn = sim.keyArn(logicalId(key));
    policy = keyPolicyOf(stack);
  });
  const decide = (principal: string, action: string, identityPolicies: any[] = []) =>
    sim.simulate({ principalArn: principal, action, resourceArn: keyArn, identityPolicies });

  test('one statement names the fleet by ArnLike aws:PrincipalArn and its account', () => {
    const fleet = policy.Statement.filter((s: any) => JSON.stringify(s.Condition ?? {}).includes('payments/readers'));
    expect(fleet).toEqual([expect.objectContaining({
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom'],
      Condition: {
        ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/payments/readers/*` },
        StringEquals: { 'aws:PrincipalAccount': ACCOUNT },
      },
    })]);
  });

  test('a role under the path may decrypt, with no identity policy of its own, and so may 1,000 of them', async () => {
    for (let i = 0; i < 1000; i++) {
      expect(await decide(fleetRole(`reader-${i}`), 'kms:Decrypt')).toBe('Allowed');
    }
    // Nested paths are under the path too, as the docs of RolesUnderPath say.
    expect(await decide(fleetRole('job', '/payments/readers/batch/'), 'kms:Decrypt')).toBe('Allowed');
  });

  test('a role under the path gets only what the fleet was granted', async () => {
    for (const action of USE.filter(a => a !== 'kms:Decrypt')) {
      expect([action, await decide(fleetRole('reader-1'), action, KMS_STAR)]).not.toEqual([action, 'Allowed']);
    }
  });

  test('a role under the path, even with IAM kms:*, cannot manage the key: the administration deny holds', async () => {
    for (const action of TAKEOVER) {
      expect([action, await decide(fleetRole('reader-1'), action, KMS_STAR)]).toEqual([action, 'ExplicitlyDenied']);
    }
  });

  test.each([
    ['a role outside the path', fleetRole('fn', '/payments/writers/')],
    ['a role whose path only starts like it', fleetRole('fn', '/payments/readers-old/')],
    ['a role of the account at the root path', fleetRole('readers', '/')],
    ['a role under the same path in another account', fleetRole('reader-1', '/payments/readers/', OTHER_ACCOUNT)],
    ['a user under the path', `arn:aws:iam::${ACCOUNT}:user/payments/readers/alice`],
  ])('%s is refused, even with IAM kms:*', async (_name, principal) => {
    expect(await decide(principal, 'kms:Decrypt', KMS_STAR)).not.toBe('Allowed');
  });

  test('an IAM principal with kms:* elsewhere in the account gets nothing', async () => {
    for (const action of [...USE, ...TAKEOVER]) {
      expect([action, await decide(POWER_USER, action, KMS_STAR)]).not.toEqual([action, 'Allowed']);
    }
  });

  test('the deploy role and the account root user still manage the key', async () => {
    for (const principal of [`arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`, `arn:aws:iam::${ACCOUNT}:root`]) {
      expect(await decide(principal, 'kms:PutKeyPolicy', KMS_STAR)).toBe('Allowed');
      expect(await decide(principal, 'kms:ScheduleKeyDeletion', KMS_STAR)).toBe('Allowed');
    }
  });
});

describe('an app with 1,000 roles under one path', () => {
  test('synthesizes with one fleet grant, and the key policy does not grow with the roles', () => {
    const policyWith = (roles: number) => {
      const app = new App({ context: { 'cdk-kms-constructs:keyInventory': false } });
      const env = { account: ACCOUNT, region: REGION };
      const data = new Stack(app, 'Data', { env });
      const key = new ClassifiedKey(data, 'Key', { classification: DataClassification.CONFIDENTIAL });
      key.grantDecrypt(ClassifiedKey.rolesUnderPath('/payments/readers/'));
      // The fleet's functions, deployed by their own stacks (250 roles each, within CloudFormation's 500 resources).
      for (let i = 0; i < roles; i++) {
        const stack = (app.node.tryFindChild(`Readers${Math.floor(i / 250)}`) as Stack | undefined) ?? new Stack(app, `Readers${Math.floor(i / 250)}`, { env });
        new iam.Role(stack, `Reader${i}`, { path: '/payments/readers/', assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      }
      const assembly = app.synth();
      expect(assembly.stacks).toHaveLength(1 + Math.ceil(roles / 250));
      return JSON.stringify(keyPolicyOf(data));
    };
    expect(policyWith(1000)).toEqual(policyWith(0));
  });
});

describe('a fleet through a bucket', () => {
  test('bucket.grantRead(fleet) lets a role under the path read objects and decrypt them', async () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL, viaServices: ['s3'] });
    const bucket = new s3.Bucket(stack, 'Bucket', { encryptionKey: key, encryption: s3.BucketEncryption.KMS });
    bucket.grantRead(ClassifiedKey.rolesUnderPath('/payments/readers/'));
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    const context = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
    expect(await sim.simulate({ principalArn: fleetRole('reader'), action: 'kms:Decrypt', resourceArn: keyArn, context })).toBe('Allowed');
    expect(await sim.simulate({ principalArn: fleetRole('writer', '/payments/writers/'), action: 'kms:Decrypt', resourceArn: keyArn, context, identityPolicies: KMS_STAR }))
      .not.toBe('Allowed');
    // Outside S3 the key's viaServices holds for the fleet as for any grantee.
    expect(await sim.simulate({ principalArn: fleetRole('reader'), action: 'kms:Decrypt', resourceArn: keyArn })).not.toBe('Allowed');
    Template.fromStack(stack).hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { AWS: '*' }, Condition: Match.objectLike({ ArnLike: Match.anyValue() }) })]) },
    });
  });
});

/** A stack with one CONFIDENTIAL key and `n` Lambda roles reading its bucket. */
function sharedDataKey(n: number, stackName = 'DataStack', path?: string): { stack: Stack; key: ClassifiedKey } {
  // 300 roles and their identity policies exceed CloudFormation's 500 resources:
  // the check is off here, as an app would spread the roles over stacks.
  const app = new App({ context: { '@aws-cdk/core:stackResourceLimit': 0, 'cdk-kms-constructs:keyInventory': false } });
  const stack = new Stack(app, stackName, { env: { account: ACCOUNT, region: REGION } });
  const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
  const bucket = new s3.Bucket(stack, 'Bucket', { encryptionKey: key, encryption: s3.BucketEncryption.KMS });
  for (let i = 0; i < n; i++) {
    bucket.grantRead(new iam.Role(stack, `Fn${i}ServiceRole`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), path }));
  }
  return { stack, key };
}

/**
 * The policy as KMS would receive it, with each role's name as CloudFormation
 * generates one (`<stack>-<logical ID>-<13 characters>`, cut to 64) and the longest
 * partition for `AWS::Partition`.
 */
function deployedSize(stack: Stack, resolved: unknown): number {
  const roles = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (c instanceof iam.CfnRole) {
      const id = stack.resolve(c.logicalId);
      const path = (stack.resolve(c.path) as string | undefined) ?? '/';
      roles.set(id, `arn:aws:iam::${ACCOUNT}:role${path}${`${stack.stackName}-${id}-ABCDEFGHIJKLM`.slice(0, 64)}`);
    }
  }
  return Buffer.byteLength(JSON.stringify(resolved, (_k, v) => {
    if (v && typeof v === 'object' && Array.isArray(v['Fn::GetAtt'])) return roles.get(v['Fn::GetAtt'][0]) ?? 'x'.repeat(128);
    return v;
  }));
}

describe('grantees by name', () => {
  test('300 Lambda roles reading a bucket fit one CONFIDENTIAL key: one statement, each ARN once', async () => {
    const { stack, key } = sharedDataKey(300);
    const policy = keyPolicyOf(stack);
    const grantees = policy.Statement.filter((s: any) => s.Sid === undefined);
    expect(grantees).toHaveLength(1);
    expect(grantees[0].Principal.AWS).toHaveLength(300);
    // The administration deny does not grow with the grantees.
    const deny = policy.Statement.find((s: any) => s.Sid === 'DenyAdministrationToNonAdministrators');
    expect(JSON.stringify(deny)).not.toContain('Fn0ServiceRole');

    const estimate = new PolicySizeEstimator(stack).size(policy);
    const deployed = deployedSize(stack, policy);
    expect(deployed).toBeLessThanOrEqual(estimate);
    expect(estimate).toBeLessThan(32 * 1024);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('key policy is about'))).toEqual([]);

    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    for (const i of [0, 150, 299]) {
      const role = sim.roleArn(logicalId(stack.node.findChild(`Fn${i}ServiceRole`)));
      expect(await sim.simulate({ principalArn: role, action: 'kms:Decrypt', resourceArn: keyArn })).toBe('Allowed');
      expect(await sim.simulate({ principalArn: role, action: 'kms:DisableKey', resourceArn: keyArn, identityPolicies: KMS_STAR })).toBe('ExplicitlyDenied');
    }
    expect(await sim.simulate({ principalArn: POWER_USER, action: 'kms:Decrypt', resourceArn: keyArn, identityPolicies: KMS_STAR })).not.toBe('Allowed');
  });

  test('the estimate is never below the deployed size, and within a few bytes per grantee of it', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 40 }),
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,40}$/),
      fc.option(fc.constantFrom('/', '/payments/', '/a/very/long/path/for/the/functions/of/a/team/'), { nil: undefined }),
      (n, stackName, path) => {
        const { stack } = sharedDataKey(n, stackName, path);
        const policy = keyPolicyOf(stack);
        const estimate = new PolicySizeEstimator(stack).size(policy);
        const deployed = deployedSize(stack, policy);
        expect(deployed).toBeLessThanOrEqual(estimate);
        expect(estimate - deployed).toBeLessThanOrEqual(n * 4 + 64);
      },
    ), { numRuns: 12 });
  });

  test('past 90% of the limit synthesis warns with the size and both remedies; past the limit it fails with them', () => {
    const near = sharedDataKey(345).stack;
    const warnings = Annotations.fromStack(near).findWarning('*', Match.stringLikeRegexp('key policy is about'));
    expect(warnings.map(w => w.entry.data)).toEqual([expect.stringMatching(
      /key policy is about \d+ bytes, 9\d% of the 32768-byte limit of KMS: grant a role shared by the grantees instead of each grantee, or grant a fleet of roles under one IAM path \(ClassifiedKey.rolesUnderPath\)/,
    )]);
    expect(() => Template.fromStack(sharedDataKey(460).stack)).toThrow(
      /key policy is about \d+ bytes, more than the 32768-byte limit of KMS: grant a role shared by the grantees instead of each grantee, or grant a fleet of roles under one IAM path/,
    );
  });
});

describe('the administration deny', () => {
  test('names the users instead when an allow gives administration to an account root IAM decides for', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    key.grantDecrypt(reader);
    key.grantDecrypt(ClassifiedKey.rolesUnderPath('/readers/'));
    // The escape hatch: every IAM principal of the account that IAM allows may disable the key.
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()], actions: ['kms:DisableKey'], resources: ['*'], conditions: { Bool: { 'aws:SecureTransport': 'true' } },
    }));
    const deny = keyPolicyOf(stack).Statement.find((s: any) => s.Sid?.startsWith('DenyAdministration'));
    expect(deny).toEqual(expect.objectContaining({
      Sid: 'DenyAdministrationToUsers',
      Condition: {
        ArnLike: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': [logicalId(reader), 'Arn'] }, `arn:aws:iam::${ACCOUNT}:role/readers/*`] },
        // The library's own administrators stay out of it, should a fleet's path cover one.
        ArnNotLike: { 'aws:PrincipalArn': expect.arrayContaining([`arn:aws:iam::${ACCOUNT}:root`]) },
      },
    }));
  });

  test('is absent when the key has no users', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    expect(keyPolicyOf(stack).Statement.map((s: any) => s.Sid)).not.toContain('DenyAdministrationToNonAdministrators');
  });
});

describe('escape hatches and odd shapes never give a user administration', () => {
  const ADMIN = ['kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:TagResource', 'kms:PutKeyPolicy'];
  /** A CONFIDENTIAL key read by a role named app-reader, and the escape hatch `hatch` adds. */
  async function readerDecisions(hatch: (key: ClassifiedKey, reader: iam.Role) => void, hatchFirst = false): Promise<string[]> {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const reader = new iam.Role(stack, 'Reader', { roleName: 'app-reader', assumedBy: new iam.AccountRootPrincipal() });
    if (hatchFirst) hatch(key, reader);
    key.grantDecrypt(reader);
    if (!hatchFirst) hatch(key, reader);
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    const decisions = [];
    for (const action of ADMIN) {
      decisions.push(await sim.simulate({ principalArn: `arn:aws:iam::${ACCOUNT}:role/app-reader`, action, resourceArn: keyArn, identityPolicies: KMS_STAR }));
    }
    return decisions;
  }
  const denied = ADMIN.map(() => 'ExplicitlyDenied');

  test('an allow to the account root held to the user by aws:PrincipalArn', async () => {
    expect(await readerDecisions((key, reader) => key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()], actions: ADMIN, resources: ['*'], conditions: { ArnEquals: { 'aws:PrincipalArn': reader.roleArn } },
    })))).toEqual(denied);
  });

  test('an allow to a pattern that covers the user', async () => {
    expect(await readerDecisions(key => key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()], actions: ADMIN, resources: ['*'], conditions: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/app-*` } },
    })))).toEqual(denied);
  });

  test('a NotAction allow to the user', async () => {
    expect(await readerDecisions((key, reader) => key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [reader], notActions: ['kms:Encrypt'], resources: ['*'],
    })))).toEqual(denied);
  });

  test('an allow to the user by its literal ARN, added before the user\'s grant', async () => {
    expect(await readerDecisions(key => key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ArnPrincipal(`arn:aws:iam::${ACCOUNT}:role/app-reader`)],
      actions: ADMIN,
      resources: ['*'],
      conditions: { Bool: { 'aws:SecureTransport': 'true' } },
    })), true)).toEqual(denied);
  });

  test('a fleet under a path an allow of administration covers', async () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    key.grantDecrypt(ClassifiedKey.rolesUnderPath('/payments/readers/'));
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()],
      actions: ['kms:TagResource', 'kms:UntagResource'],
      resources: ['*'],
      conditions: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/payments/*` } },
    }));
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    for (const action of ['kms:TagResource', 'kms:UntagResource']) {
      expect(await sim.simulate({ principalArn: fleetRole('reader'), action, resourceArn: keyArn, identityPolicies: KMS_STAR })).toBe('ExplicitlyDenied');
    }
  });

  test('grantAdmin refuses a role session: its requests carry its role\'s ARN, which other sessions share', () => {
    const key = new ClassifiedKey(newStack(), 'Key', { classification: DataClassification.INTERNAL });
    expect(() => key.grantAdmin(new iam.ArnPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/OpsAdmin/alice`))).toThrow(
      /grantAdmin must be given a role, not one of its sessions, got ArnPrincipal\(arn:aws:sts::111111111111:assumed-role\/OpsAdmin\/alice\)/,
    );
  });

  test('a principal added later to the statements grantAdmin returned gets no administration', async () => {
    expect(await readerDecisions((key, reader) => {
      const admin = new iam.Role(Stack.of(key), 'OpsAdmin', { assumedBy: new iam.AccountRootPrincipal() });
      key.grantAdmin(admin).resourceStatements.find(st => st.effect === iam.Effect.ALLOW)!.addPrincipals(reader);
    })).toEqual(denied);
  });

  test('an administrator with a wide aws:PrincipalArn condition does not widen who may administer', async () => {
    expect(await readerDecisions(key => {
      const admin = new iam.Role(Stack.of(key), 'OpsAdmin', { assumedBy: new iam.AccountRootPrincipal() });
      key.grantAdmin(new iam.PrincipalWithConditions(admin, { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/*` } }));
      key.addToResourcePolicy(new iam.PolicyStatement({
        principals: [new iam.AccountRootPrincipal()],
        actions: ADMIN,
        resources: ['*'],
        conditions: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/app-*` } },
      }));
    })).toEqual(denied);
  });

  test('a fleet whose path covers the administrator, beside an escape hatch, leaves the administrator administering', async () => {
    const stack = newStack();
    const adminRole = iam.Role.fromRoleArn(stack, 'Admin', `arn:aws:iam::${ACCOUNT}:role/payments/KeyAdmin`);
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, adminRole });
    key.grantDecrypt(ClassifiedKey.rolesUnderPath('/payments/'));
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()], actions: ['kms:TagResource'], resources: ['*'], conditions: { Bool: { 'aws:SecureTransport': 'true' } },
    }));
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    for (const action of ['kms:DisableKey', 'kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion']) {
      expect([action, await sim.simulate({ principalArn: `arn:aws:iam::${ACCOUNT}:role/payments/KeyAdmin`, action, resourceArn: keyArn })])
        .toEqual([action, 'Allowed']);
    }
    expect(await sim.simulate({ principalArn: fleetRole('x', '/payments/'), action: 'kms:DisableKey', resourceArn: keyArn, identityPolicies: KMS_STAR }))
      .toBe('ExplicitlyDenied');
  });
});

describe('whoever manages the key cannot be made a user of it', () => {
  test('the deploy role is refused use at synth: the administration deny leaves it out', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.CONFIDENTIAL });
    const deployRole = iam.Role.fromRoleArn(stack, 'Deploy', `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`);
    expect(() => key.grantDecrypt(deployRole)).toThrow(/grantDecrypt must not be given TestStack\/Deploy: it manages the key \(the deploy role/);
  });

  test('a multi-Region primary\'s administrator is refused use of a replica it may promote', () => {
    const set = new MultiRegionKeySet(new App(), 'Orders', {
      account: ACCOUNT,
      primaryRegion: REGION,
      replicaRegions: ['eu-west-1'],
      classification: DataClassification.CONFIDENTIAL,
      allowPrimaryRegionUpdate: true,
      viaServices: ['dynamodb'],
    });
    const replicaStack = set.stackIn('eu-west-1');
    const primaryAdmin = adminPrincipal(set.primaryKey.adminRole).principal.policyFragment.principalJson.AWS[0];
    expect(() => set.keyIn('eu-west-1').grantDecrypt(iam.Role.fromRoleArn(replicaStack, 'PrimaryAdmin', primaryAdmin))).toThrow(/it manages the key/);
  });

  test('an administrator\'s ARN with a wildcard in its path fails synthesis', () => {
    const stack = newStack();
    const adminRole = new iam.Role(stack, 'Admin', { path: '/ops/*/', roleName: 'KeyAdmin', assumedBy: new iam.AccountRootPrincipal() });
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, adminRole });
    key.grantDecrypt(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
    expect(() => Template.fromStack(stack)).toThrow(/a principal that manages the key has '\*' or '\?' in its ARN \(\/ops\/\*\/KeyAdmin\)/);
  });

  test('a role session built with intrinsics is refused as an administrator', () => {
    const stack = new Stack(new App(), 'Agnostic');
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const session = new iam.ArnPrincipal(`arn:${Aws.PARTITION}:sts::${Aws.ACCOUNT_ID}:assumed-role/OpsAdmin/alice`);
    expect(() => key.grantAdmin(session)).toThrow(/grantAdmin must be given a role, not one of its sessions/);
  });

  test('a user known only at deploy time gets no administration from an escape hatch', async () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL, allowAccountRootCryptography: true });
    const readerArn = new CfnParameter(stack, 'ReaderArn', { default: `arn:aws:iam::${ACCOUNT}:role/app-reader` }).valueAsString;
    key.grantDecrypt(iam.Role.fromRoleArn(stack, 'Reader', readerArn));
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.AccountRootPrincipal()],
      actions: ['kms:DisableKey', 'kms:PutKeyPolicy'],
      resources: ['*'],
      conditions: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/app-*` } },
    }));
    const sim = PolicySimulator.fromStack(stack);
    const keyArn = sim.keyArn(logicalId(key));
    for (const action of ['kms:DisableKey', 'kms:PutKeyPolicy']) {
      expect(await sim.simulate({ principalArn: `arn:aws:iam::${ACCOUNT}:role/app-reader`, action, resourceArn: keyArn, identityPolicies: KMS_STAR }))
        .toBe('ExplicitlyDenied');
    }
    // The escape hatch still works for whom it was written, outside the key's users.
    expect(await sim.simulate({ principalArn: `arn:aws:iam::${ACCOUNT}:role/app-ops`, action: 'kms:DisableKey', resourceArn: keyArn, identityPolicies: KMS_STAR }))
      .toBe('Allowed');
  });
});

describe('the size estimate reads the template as it will be', () => {
  test('a path set by a property override counts', () => {
    const { stack } = sharedDataKey(20);
    const path = `/${'team/'.repeat(60)}`;
    for (const c of stack.node.findAll()) if (c instanceof iam.CfnRole && c.node.path.includes('ServiceRole')) c.addPropertyOverride('Path', path);
    const policy = keyPolicyOf(stack);
    expect(new PolicySizeEstimator(stack).size(policy)).toBeGreaterThanOrEqual(deployedSize(stack, policy));
  });

  test('a list token in an escape hatch counts its elements', () => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: DataClassification.INTERNAL });
    const endpoints = Array.from({ length: 1600 }, (_, i) => `vpce-${String(i).padStart(17, '0')}`);
    key.addToResourcePolicy(new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:Decrypt'],
      resources: ['*'],
      conditions: { StringNotEquals: { 'aws:SourceVpce': Lazy.list({ produce: () => endpoints }) } },
    }));
    expect(() => Template.fromStack(stack)).toThrow(/key policy is about \d+ bytes, more than the 32768-byte limit of KMS/);
  });
});
