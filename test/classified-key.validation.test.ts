import { App, CfnParameter, CliCredentialsStackSynthesizer, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import * as fc from 'fast-check';
import { ClassifiedKey, ClassifiedKeyProps, DataClassification, KeyAuditTrail } from '../src';
import { newStack } from './support/stack';

const { CONFIDENTIAL, INTERNAL, RESTRICTED } = DataClassification;

/** Props for a case; given the stack when the case needs constructs of its own. */
type PropsFor = (scope: Construct) => ClassifiedKeyProps;

const cases: Array<[string, PropsFor, string | RegExp]> = [
  ['alias lacks the alias/ prefix', () => ({ classification: INTERNAL, alias: 'payments' }),
    'alias must start with "alias/", got "payments"'],
  ['alias uses the reserved alias/aws/ prefix', () => ({ classification: INTERNAL, alias: 'alias/aws/payments' }),
    'alias must not start with the reserved prefix "alias/aws/", got "alias/aws/payments"'],
  ['alias is longer than 256 characters', () => ({ classification: INTERNAL, alias: `alias/${'a'.repeat(251)}` }),
    'alias must be at most 256 characters, got 257'],
  ['alias has a space', () => ({ classification: INTERNAL, alias: 'alias/pay ments' }),
    'alias may contain only letters, digits, ":", "/", "_" and "-" after "alias/", got "alias/pay ments"'],
  ['pendingWindow is 6 days', () => ({ classification: INTERNAL, pendingWindow: Duration.days(6) }),
    'pendingWindow must be between 7 and 30 days, got 6'],
  ['pendingWindow is 31 days', () => ({ classification: INTERNAL, pendingWindow: Duration.days(31) }),
    'pendingWindow must be between 7 and 30 days, got 31'],
  ['pendingWindow is not whole days', () => ({ classification: INTERNAL, pendingWindow: Duration.hours(200) }),
    'pendingWindow must be a whole number of days, got 8 days 8 hours'],
  ['rotationPeriod is 89 days', () => ({ classification: INTERNAL, rotationPeriod: Duration.days(89) }),
    'rotationPeriod must be between 90 and 2560 days, got 89'],
  ['rotationPeriod is 2561 days', () => ({ classification: INTERNAL, rotationPeriod: Duration.days(2561) }),
    'rotationPeriod must be between 90 and 2560 days, got 2561'],
  ['rotationPeriod exceeds the CONFIDENTIAL ceiling', () => ({ classification: CONFIDENTIAL, rotationPeriod: Duration.days(365) }),
    'rotationPeriod for a CONFIDENTIAL key must be at most 180 days, got 365'],
  ['rotationPeriod is set with rotation off', () => ({ classification: INTERNAL, enableKeyRotation: false, rotationPeriod: Duration.days(90) }),
    'rotationPeriod must not be set when enableKeyRotation is false, got 90 days'],
  ['rotation is turned off for a CONFIDENTIAL key', () => ({ classification: CONFIDENTIAL, enableKeyRotation: false }),
    'enableKeyRotation must not be false for a CONFIDENTIAL key, got false'],
  ['rotation is asked of an RSA key', () => ({ classification: INTERNAL, keySpec: kms.KeySpec.RSA_2048, keyUsage: kms.KeyUsage.SIGN_VERIFY, enableKeyRotation: true }),
    /^enableKeyRotation must not be true for keySpec RSA_2048/],
  ['a rotation period is given to an HMAC key', () => ({ classification: INTERNAL, keySpec: kms.KeySpec.HMAC_256, rotationPeriod: Duration.days(90) }),
    'rotationPeriod must not be set for keySpec HMAC_256, got 90 days: the key does not rotate'],
  ['rotation is asked of imported material', () => ({ classification: INTERNAL, importKeyMaterial: true, enableKeyRotation: true }),
    /^enableKeyRotation must not be true for a key with imported material/],
  ['an RSA_2048 key is for encryption', () => ({ classification: INTERNAL, keySpec: kms.KeySpec.RSA_2048, keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT }),
    /^keySpec RSA_2048 is too short for ENCRYPT_DECRYPT: Control Tower control CT.KMS.PR.2/],
  ['an RSA key has no usage', () => ({ classification: INTERNAL, keySpec: kms.KeySpec.RSA_2048 }),
    'keyUsage is required for keySpec RSA_2048 (one of ENCRYPT_DECRYPT, SIGN_VERIFY), got undefined'],
  ['a symmetric key is for signing', () => ({ classification: INTERNAL, keyUsage: kms.KeyUsage.SIGN_VERIFY }),
    'keyUsage must be one of ENCRYPT_DECRYPT for keySpec SYMMETRIC_DEFAULT, got SIGN_VERIFY'],
  ['an HMAC key is for encryption', () => ({ classification: INTERNAL, keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT }),
    'keyUsage must be one of GENERATE_VERIFY_MAC for keySpec HMAC_256, got ENCRYPT_DECRYPT'],
  ['an ECC key is for encryption', () => ({ classification: INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT }),
    'keyUsage must be one of SIGN_VERIFY, KEY_AGREEMENT for keySpec ECC_NIST_P256, got ENCRYPT_DECRYPT'],
  ['admin and user are the same role', (scope) => {
    const role = new iam.Role(scope, 'Shared', { assumedBy: new iam.AccountRootPrincipal() });
    return { classification: INTERNAL, adminRole: role, userRole: role };
  }, 'adminRole and userRole must be different roles, got TestStack/Shared for both'],
  ['admin and user are two imports of one role', (scope) => ({
    classification: INTERNAL,
    adminRole: iam.Role.fromRoleArn(scope, 'A', 'arn:aws:iam::111111111111:role/Same'),
    userRole: iam.Role.fromRoleArn(scope, 'B', 'arn:aws:iam::111111111111:role/Same'),
  }), 'adminRole and userRole must be different roles, got TestStack/A for both'],
  ['the admin of a CONFIDENTIAL key is a service', () => ({
    classification: CONFIDENTIAL, adminRoleAssumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  }), /^adminRoleAssumedBy must be a principal that can sign in with MFA for a CONFIDENTIAL key, got service principal/],
  ['organizationId is malformed', () => ({ classification: INTERNAL, organizationId: 'o-ABC' }),
    'organizationId must look like "o-" followed by 10 to 32 lowercase letters or digits, got "o-ABC"'],
  ['viaServices names an endpoint', () => ({ classification: INTERNAL, viaServices: ['s3.us-east-1.amazonaws.com'] }),
    'viaServices entries must be service names such as "s3" or "dynamodb" (the region is added), got "s3.us-east-1.amazonaws.com"'],
  ['viaServices is empty', () => ({ classification: INTERNAL, viaServices: [] }),
    'viaServices must name at least one service when given, got []'],
  ['viaServices repeats a service', () => ({ classification: INTERNAL, viaServices: ['s3', 's3'] }),
    'viaServices must not repeat a service, got "s3" twice'],
  ['encryptionContextKeys is empty', () => ({ classification: INTERNAL, encryptionContextKeys: [] }),
    'encryptionContextKeys must name at least one key when given, got []'],
  ['encryptionContextKeys has an empty key', () => ({ classification: INTERNAL, encryptionContextKeys: ['tenant', ' '] }),
    'encryptionContextKeys must not contain an empty key, got ["tenant"," "]'],
  ['encryptionContextKeys has a wildcard', () => ({ classification: INTERNAL, encryptionContextKeys: ['tenant*'] }),
    'encryptionContextKeys entries must not contain spaces or wildcards, got "tenant*"'],
  ['encryptionContextKeys are given to a signing key', () => ({
    classification: INTERNAL, keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY, encryptionContextKeys: ['tenant'],
  }), 'encryptionContextKeys apply only to symmetric encryption keys, got keySpec ECC_NIST_P256'],
  ['a RESTRICTED key is not narrowed', () => ({ classification: RESTRICTED }),
    'viaServices or encryptionContextKeys is required for a RESTRICTED key, got neither'],
  ['root cryptography is asked for a CONFIDENTIAL key', () => ({ classification: CONFIDENTIAL, allowAccountRootCryptography: true }),
    'allowAccountRootCryptography must not be true for a CONFIDENTIAL key: its use must be granted by the key policy, got true'],
  ['owner is longer than a tag value', () => ({ classification: INTERNAL, owner: 'o'.repeat(257) }),
    'owner must be at most 256 characters as a tag value, got 257'],
  ['owner has characters tags refuse', () => ({ classification: INTERNAL, owner: 'team<script>' }),
    'owner may contain only letters, digits, spaces and _ . : / = + - @ as a tag value, got "team<script>"'],
  ['owner is empty', () => ({ classification: INTERNAL, owner: '' }),
    'owner must not be empty when given, got ""'],
  ['a compliance scope has a space', () => ({ classification: INTERNAL, complianceScopes: ['pci dss'] }),
    'complianceScopes entries must not contain spaces (they are joined with one), got "pci dss"'],
  ['compliance scopes together exceed a tag value', () => ({ classification: INTERNAL, complianceScopes: ['a'.repeat(200), 'b'.repeat(100)] }),
    'complianceScopes must be at most 256 characters as a tag value, got 301'],
  ['description is longer than 8192 characters', () => ({ classification: INTERNAL, description: 'd'.repeat(8193) }),
    'description must be at most 8192 characters, got 8193'],
  ['classification is not one of the four (from another jsii language)', () => ({ classification: 'SECRET' as DataClassification }),
    'classification must be one of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED, got SECRET'],
  ['keySpec is unknown', () => ({ classification: INTERNAL, keySpec: 'AES_256' as kms.KeySpec }),
    /^keySpec must be one of SYMMETRIC_DEFAULT, RSA_2048, .*, got AES_256$/],
  ['removalPolicy is SNAPSHOT', () => ({ classification: INTERNAL, removalPolicy: RemovalPolicy.SNAPSHOT }),
    'removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a KMS key, got SNAPSHOT'],
];

describe('bad input is rejected at synth', () => {
  test('the table covers at least 20 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  test.each(cases)('fails when %s', (_name, propsFor, message) => {
    // GIVEN
    const stack = newStack();
    // WHEN / THEN
    expect(() => new ClassifiedKey(stack, 'Key', propsFor(stack))).toThrow(message);
  });

  test('every message is lowercase at the start and names a prop', () => {
    for (const [, propsFor] of cases) {
      const stack = newStack();
      try {
        new ClassifiedKey(stack, 'Key', propsFor(stack));
      } catch (e) {
        expect((e as Error).message).toMatch(/^[a-z]/);
        continue;
      }
      throw new Error('expected an error');
    }
  });

  test('values only known at deploy time are not checked at synth', () => {
    const stack = newStack();
    new ClassifiedKey(stack, 'Key', {
      classification: INTERNAL,
      alias: Lazy.string({ produce: () => 'alias/from-a-token' }),
      organizationId: Lazy.string({ produce: () => 'o-fromaparameter' }),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/from-a-token' });
  });
});

describe('bad grants are rejected', () => {
  test.each([
    ['asks for no action', [], 'grant needs at least one action, got none'],
    ['asks for an action of another service', ['s3:GetObject'], 'grant got an action that is not a KMS key action: "s3:GetObject"'],
    ['asks for an unknown KMS action', ['kms:Frobnicate'], 'grant got an action that is not a KMS key action: "kms:Frobnicate"'],
  ])('fails when grant %s', (_name, granted, message) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', { classification: INTERNAL });
    const role = new iam.Role(stack, 'Grantee', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => key.grant(role, ...granted)).toThrow(message);
  });
});

describe('bad grantees are rejected', () => {
  type Case = [string, ClassifiedKeyProps, (key: ClassifiedKey, scope: Construct) => void, string];
  const grantees: Case[] = [
    ['grantDecrypt to every principal', { classification: INTERNAL }, k => k.grantDecrypt(new iam.AnyPrincipal()),
      'grantDecrypt must not be given every principal (AnyPrincipal()): the key policy names who may use the key'],
    ['grantEncrypt to the account root of a CONFIDENTIAL key', { classification: CONFIDENTIAL }, k => k.grantEncrypt(new iam.AccountRootPrincipal()),
      'grantEncrypt must not be given the account root (AccountRootPrincipal()) for a CONFIDENTIAL key: grant the roles that use the key, by name'],
    ['grantDecrypt to the account root of an INTERNAL key without the opt-in', { classification: INTERNAL }, k => k.grantDecrypt(new iam.AccountRootPrincipal()),
      'grantDecrypt must not be given the account root (AccountRootPrincipal()) for a INTERNAL key without allowAccountRootCryptography: grant the roles that use the key, by name'],
    ['grantDecrypt to another account\'s root on a RESTRICTED key', { classification: RESTRICTED, viaServices: ['s3'] }, k => k.grantDecrypt(new iam.AccountPrincipal('222222222222')),
      'grantDecrypt must not be given the root of account 222222222222 for a RESTRICTED key: grant the roles of that account that use the key, by name'],
    ['a grant through a service the key does not allow', { classification: RESTRICTED, viaServices: ['s3'] },
      (k, scope) => k.grantDecrypt(new kms.ViaServicePrincipal('secretsmanager.us-east-1.amazonaws.com', new iam.Role(scope, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }))),
      'grantDecrypt was made through secretsmanager, which is not in the key\'s viaServices (s3): add it to viaServices or use another key'],
  ];
  test.each(grantees)('fails when %s', (_name, props, grant, message) => {
    const stack = newStack();
    const key = new ClassifiedKey(stack, 'Key', props);
    expect(() => grant(key, stack)).toThrow(message);
  });

  test('fails when the stack\'s synthesizer has no CloudFormation execution role and no deployRole is given', () => {
    const stack = new Stack(new App(), 'Cli', {
      env: { account: '111111111111', region: 'us-east-1' },
      synthesizer: new CliCredentialsStackSynthesizer(),
    });
    expect(() => new ClassifiedKey(stack, 'Key', { classification: CONFIDENTIAL }))
      .toThrow('deployRole is required for Cli/Key: its stack\'s synthesizer (CliCredentialsStackSynthesizer) has no CloudFormation execution role, which the key policy names as the role that updates it and creates the key\'s consumers');
  });

  test('fails when the deploy role is the admin role, once a consumer needs it', () => {
    const stack = newStack();
    const admins = iam.Role.fromRoleArn(stack, 'Admins', 'arn:aws:iam::111111111111:role/KeyAdmins');
    const key = new ClassifiedKey(stack, 'Key', { classification: CONFIDENTIAL, adminRole: admins, deployRole: admins });
    expect(() => new secretsmanager.Secret(stack, 'Secret', { encryptionKey: key }))
      .toThrow(/^deployRole must not be given the admin role TestStack\/Admins: administrators manage the key and cannot use it/);
  });

  test('fails when a role of another stack is named by a value known only at deploy time', () => {
    const app = new App();
    const keys = new Stack(app, 'Keys', { env: { account: '111111111111', region: 'us-east-1' } });
    const other = new Stack(app, 'Other', { env: { account: '111111111111', region: 'us-east-1' } });
    const key = new ClassifiedKey(keys, 'Key', { classification: INTERNAL, monitoring: false });
    const name = new CfnParameter(other, 'RoleName');
    const role = new iam.Role(other, 'Reader', { assumedBy: new iam.AccountRootPrincipal(), roleName: name.valueAsString });
    expect(() => key.grantDecrypt(role))
      .toThrow('grantDecrypt must be given a role of another stack whose roleName is known at synth, got Other/Reader named by a value known only at deploy time');
  });

  test('with deployRole, a stack without an execution role creates its consumers as that role', () => {
    const stack = new Stack(new App(), 'Cli', {
      env: { account: '111111111111', region: 'us-east-1' },
      synthesizer: new CliCredentialsStackSynthesizer(),
    });
    const deployRole = iam.Role.fromRoleArn(stack, 'Deployer', 'arn:aws:iam::111111111111:role/Deployer');
    new KeyAuditTrail(stack, 'KeyAuditTrail', { deployRole });
    const key = new ClassifiedKey(stack, 'Key', { classification: CONFIDENTIAL, deployRole });
    new secretsmanager.Secret(stack, 'Secret', { encryptionKey: key });
    const statements = Template.fromStack(stack).findResources('AWS::KMS::Key');
    const policy = JSON.stringify(Object.values(statements).map(k => k.Properties.KeyPolicy));
    expect(policy).toContain('"AWS":"arn:aws:iam::111111111111:role/Deployer"');
    expect(policy).toContain('secretsmanager.us-east-1.amazonaws.com');
  });
});

describe('durations known only at deploy time', () => {
  test('pendingWindow and an INTERNAL key\'s rotationPeriod are passed through to CloudFormation', () => {
    const stack = newStack();
    const days = new CfnParameter(stack, 'Days', { type: 'Number' });
    new ClassifiedKey(stack, 'Key', {
      classification: INTERNAL,
      pendingWindow: Duration.days(days.valueAsNumber),
      rotationPeriod: Duration.days(days.valueAsNumber),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', {
      PendingWindowInDays: { Ref: 'Days' },
      RotationPeriodInDays: { Ref: 'Days' },
    });
  });

  test('fails when a CONFIDENTIAL key\'s rotationPeriod is known only at deploy time', () => {
    const stack = newStack();
    const days = new CfnParameter(stack, 'Days', { type: 'Number' });
    expect(() => new ClassifiedKey(stack, 'Key', { classification: CONFIDENTIAL, rotationPeriod: Duration.days(days.valueAsNumber) }))
      .toThrow(/^rotationPeriod of a CONFIDENTIAL key must be known at synth, to hold it to at most 180 days, got a value known only at deploy time/);
  });

  test('fails when a duration known only at deploy time is not in days', () => {
    const stack = newStack();
    const hours = new CfnParameter(stack, 'Hours', { type: 'Number' });
    expect(() => new ClassifiedKey(stack, 'Key', { classification: INTERNAL, pendingWindow: Duration.hours(hours.valueAsNumber) }))
      .toThrow(/^pendingWindow must be given with Duration.days\(\) when it is only known at deploy time/);
  });
});

describe('properties that hold for all input', () => {
  test('a derived alias is always a valid alias, whatever the construct id', () => {
    fc.assert(fc.property(
      // constructs reserves '/' and trips over names of Object.prototype ('toString').
      fc.string({ minLength: 1, maxLength: 300 }).filter(id => !id.includes('/') && id.trim() === id && !(id in {})),
      fc.constantFrom(...Object.values(DataClassification)),
      (id, classification) => {
        const stack = newStack();
        // Construct ids cannot contain '/', and RESTRICTED keys must be narrowed.
        new ClassifiedKey(stack, id, { classification, viaServices: ['s3'] });
        const aliasName: string = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Alias'))[0].Properties.AliasName;
        expect(aliasName).toMatch(/^alias\/[a-zA-Z0-9:/_-]+$/);
        expect(aliasName.length).toBeLessThanOrEqual(256);
        expect(aliasName.startsWith('alias/aws/')).toBe(false);
      },
    ), { numRuns: 40 });
  });

  test('pendingWindow is accepted exactly from 7 to 30 days', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 60 }), (days) => {
      const stack = newStack();
      const create = () => new ClassifiedKey(stack, 'Key', { classification: INTERNAL, pendingWindow: Duration.days(days) });
      if (days >= 7 && days <= 30) {
        expect(create).not.toThrow();
      } else {
        expect(create).toThrow(`pendingWindow must be between 7 and 30 days, got ${days}`);
      }
    }), { numRuns: 30 });
  });

  test('any grant on a symmetric key puts only symmetric actions in the key policy', () => {
    const candidates = ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey', 'kms:CreateGrant'];
    fc.assert(fc.property(fc.subarray(candidates, { minLength: 1 }), (granted) => {
      const stack = newStack();
      const key = new ClassifiedKey(stack, 'Key', { classification: INTERNAL });
      key.grant(new iam.Role(stack, 'Grantee', { assumedBy: new iam.AccountRootPrincipal() }), ...granted);
      const statements = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key'))[0].Properties.KeyPolicy.Statement;
      for (const statement of statements.filter((s: any) => s.Effect === 'Allow' && JSON.stringify(s.Principal).includes('Grantee'))) {
        for (const action of [statement.Action].flat()) {
          expect(action).not.toContain('*');
          expect(action).toMatch(/^kms:(Decrypt|Encrypt|ReEncrypt(From|To)|GenerateDataKey.*|DescribeKey|CreateGrant)$/);
        }
        if ([statement.Action].flat().includes('kms:CreateGrant')) {
          expect(statement.Condition.Bool['kms:GrantIsForAWSResource']).toBe('true');
        }
      }
    }), { numRuns: 25 });
  });
});
