/*
 * The decisions ClassifiedKey delegates, tested without a stack: what a key's props
 * resolve to (key-settings.ts) and which actions a usage grant may carry (actions.ts).
 * And the one-way dependency between the key and its watcher: the key folder loads
 * without the audit folder, and then has no watcher to fall back on.
 */
import { App, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as fc from 'fast-check';
import { usageActionsOf, usageProfile } from '../src/key/actions';
import { DataClassification } from '../src/key/classification';
import { ClassifiedKeyProps } from '../src/key/classified-key-props';
import { STANDARD_HOME } from '../src/key/key-home';
import { resolveKeySettings } from '../src/key/key-settings';

const SYMMETRIC = usageProfile(kms.KeySpec.SYMMETRIC_DEFAULT, kms.KeyUsage.ENCRYPT_DECRYPT);
const SIGNING = usageProfile(kms.KeySpec.ECC_NIST_P256, kms.KeyUsage.SIGN_VERIFY);

function symmetricActions(patterns: string[]): string[] {
  return usageActionsOf(patterns, SYMMETRIC, kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeySpec.SYMMETRIC_DEFAULT);
}

describe('usageActionsOf: the actions a usage grant may carry', () => {
  test('a wildcard keeps only the actions of the key\'s usage', () => {
    // GenerateDataKey* also matches the data key pair actions, which a symmetric key allows too.
    expect(symmetricActions(['kms:GenerateDataKey*'])).toEqual(expect.arrayContaining(['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext']));
    expect(symmetricActions(['kms:GenerateDataKey*']).every(a => a.startsWith('kms:GenerateDataKey'))).toBe(true);
    // Verify* also matches VerifyMac, which a signing key does not have.
    expect(usageActionsOf(['kms:Sign*', 'kms:Verify*'], SIGNING, kms.KeyUsage.SIGN_VERIFY, kms.KeySpec.ECC_NIST_P256))
      .toEqual(['kms:Sign', 'kms:Verify']);
  });

  test('an exact action of another usage is refused, naming it and the key', () => {
    expect(() => symmetricActions(['kms:Sign']))
      .toThrow('grant got "kms:Sign", which a ENCRYPT_DECRYPT key (keySpec SYMMETRIC_DEFAULT) does not support');
  });

  test('administration, no action and a non-KMS action are refused', () => {
    expect(() => symmetricActions(['kms:PutKeyPolicy'])).toThrow(/must not give administrative actions, got "kms:PutKeyPolicy".*use grantAdmin/);
    expect(() => symmetricActions(['kms:*'])).toThrow(/must not give administrative actions, got "kms:\*"/);
    expect(() => symmetricActions([])).toThrow('grant needs at least one action, got none');
    expect(() => symmetricActions(['s3:GetObject'])).toThrow('grant got an action that is not a KMS key action: "s3:GetObject"');
  });

  test('any subset of the usage\'s actions comes back as itself, once each', () => {
    fc.assert(fc.property(fc.subarray(SYMMETRIC.all, { minLength: 1 }), fc.boolean(), (subset, twice) => {
      const result = symmetricActions(twice ? [...subset, ...subset] : subset);
      expect([...result].sort()).toEqual([...new Set(subset)].sort());
    }));
  });
});

describe('resolveKeySettings: what a key\'s props resolve to', () => {
  const resolve = (props: Partial<ClassifiedKeyProps>) => resolveKeySettings({
    classification: DataClassification.INTERNAL, ...props,
  } as ClassifiedKeyProps, STANDARD_HOME);

  test('an INTERNAL key\'s defaults', () => {
    const settings = resolve({});
    expect(settings).toMatchObject({
      keySpec: kms.KeySpec.SYMMETRIC_DEFAULT,
      keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT,
      imported: false,
      rotatable: true,
      rotation: { enabled: true, periodDays: 365 },
      pendingWindowDays: 30,
      removalPolicy: RemovalPolicy.RETAIN,
      monitoring: true,
    });
    expect(settings.profile.all).toEqual(SYMMETRIC.all);
  });

  test('a CONFIDENTIAL key rotates within its ceiling; an HMAC key and imported material do not rotate', () => {
    expect(resolve({ classification: DataClassification.CONFIDENTIAL }).rotation).toEqual({ enabled: true, periodDays: 180 });
    expect(() => resolve({ classification: DataClassification.CONFIDENTIAL, rotationPeriod: Duration.days(365) }))
      .toThrow('rotationPeriod for a CONFIDENTIAL key must be at most 180 days, got 365');
    expect(resolve({ keySpec: kms.KeySpec.HMAC_256 })).toMatchObject({ rotatable: false, rotation: { enabled: false } });
    expect(resolve({ importKeyMaterial: true })).toMatchObject({ imported: true, rotatable: false, rotation: { enabled: false } });
  });

  test('compliance scopes are joined for their tag', () => {
    expect(resolve({ complianceScopes: ['pci-dss', 'soc2'] }).complianceScope).toBe('pci-dss soc2');
    expect(() => resolve({ complianceScopes: ['pci dss'] })).toThrow('complianceScopes entries must not contain spaces (they are joined with one), got "pci dss"');
  });

  test('the classification refuses what it must, naming the prop and the value', () => {
    expect(() => resolve({ classification: DataClassification.RESTRICTED }))
      .toThrow('viaServices or encryptionContextKeys is required for a RESTRICTED key, got neither');
    expect(() => resolve({ classification: DataClassification.CONFIDENTIAL, monitoring: false }))
      .toThrow('monitoring must not be false for a CONFIDENTIAL key, got false');
    expect(() => resolve({ classification: DataClassification.CONFIDENTIAL, allowAccountRootCryptography: true }))
      .toThrow(/allowAccountRootCryptography must not be true for a CONFIDENTIAL key/);
    expect(() => resolve({ removalPolicy: RemovalPolicy.SNAPSHOT })).toThrow(/removalPolicy must be RETAIN.*got SNAPSHOT/);
    expect(() => resolve({ pendingWindow: Duration.days(6) })).toThrow(/pendingWindow must be between 7 and 30 days, got 6/);
  });
});

describe('the key reaches its watcher only through key-watch.ts', () => {
  test('the key folder loads without the audit folder, and then has no default watcher', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../src/key/classified-key');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const watch = require('../src/key/key-watch');
      expect(() => watch.defaultWatcherOf(new App()))
        .toThrow('no audit trail can watch : the library\'s audit module is not loaded (import the library from its package root)');
    });
  });

  test('loading the library installs KeyAuditTrail.of as the default watcher', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const lib = require('../src');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const watch = require('../src/key/key-watch');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const cdk = require('aws-cdk-lib');
      const stack = new cdk.Stack(new cdk.App(), 'Stack', { env: { account: '111111111111', region: 'us-east-1' } });
      const trail = watch.defaultWatcherOf(stack);
      expect(lib.KeyAuditTrail.isKeyAuditTrail(trail)).toBe(true);
      expect(watch.defaultWatcherOf(stack)).toBe(trail);
    });
  });
});
