import * as kms from 'aws-cdk-lib/aws-kms';

/*
 * KMS action lists, named by purpose. Every list is explicit: no wildcard in a key
 * policy written by this library for a principal of the account, so that "the admin
 * cannot use the key" holds for actions KMS adds later too. (The one wildcard is AWS's
 * own `kms:GenerateDataKey*`, for the service principals of CloudTrail and the
 * topic publishers, each held to its resource by `aws:SourceArn`.)
 */

/** Read a key's metadata. Harmless, and needed by services that use the key. */
export const DESCRIBE = ['kms:DescribeKey'];

/** Manage the key without using it. */
export const ADMIN = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
  'kms:ListGrants',
  'kms:PutKeyPolicy',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:UpdateKeyDescription',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

/**
 * Reading a key's settings, changing nothing: what the account's tools call through
 * IAM (AWS Config and Security Hub, inventories, the library's own lookups).
 */
export const SETTINGS_READS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
  'kms:ListGrants',
  'kms:GetKeyRotationStatus',
  'kms:ListKeyRotations',
];

/** Rotation management, only for keys that KMS can rotate. */
export const ADMIN_ROTATION = [
  'kms:GetKeyRotationStatus',
  'kms:ListKeyRotations',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
];

/** Key material import, only for EXTERNAL-origin keys, and only for admins. */
export const ADMIN_IMPORT = [
  'kms:GetParametersForImport',
  'kms:ImportKeyMaterial',
  'kms:DeleteImportedKeyMaterial',
];

/** Multi-Region primary key management. */
export const ADMIN_MULTI_REGION_PRIMARY = ['kms:ReplicateKey', 'kms:UpdatePrimaryRegion'];

/** Grants, allowed only when the grant is for an AWS resource (CT.KMS.PR.3). */
export const GRANTS_FOR_AWS_RESOURCES = ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'];

/** Symmetric encryption. */
export const SYMMETRIC_ENCRYPT = [
  'kms:Encrypt',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
];
export const SYMMETRIC_DECRYPT = ['kms:Decrypt', 'kms:ReEncryptFrom'];

/** Asymmetric (RSA, SM2) encryption. */
export const ASYMMETRIC_ENCRYPT = ['kms:Encrypt', 'kms:ReEncryptTo', 'kms:GetPublicKey'];
export const ASYMMETRIC_DECRYPT = ['kms:Decrypt', 'kms:ReEncryptFrom'];

/** Signatures. */
export const SIGN = ['kms:Sign'];
export const VERIFY = ['kms:Verify', 'kms:GetPublicKey'];

/** HMAC. */
export const GENERATE_MAC = ['kms:GenerateMac'];
export const VERIFY_MAC = ['kms:VerifyMac'];

/** Key agreement. */
export const DERIVE_SHARED_SECRET = ['kms:DeriveSharedSecret', 'kms:GetPublicKey'];

/**
 * Actions whose requests carry an encryption context, so that
 * `kms:EncryptionContext:` conditions can apply to them: symmetric encryption.
 */
export const TAKES_ENCRYPTION_CONTEXT = [...SYMMETRIC_ENCRYPT, ...SYMMETRIC_DECRYPT];

/** Every cryptographic action KMS has. None of them may reach an administrator. */
export const ALL_CRYPTOGRAPHIC = unique([
  ...SYMMETRIC_ENCRYPT,
  ...SYMMETRIC_DECRYPT,
  'kms:GenerateRandom',
  ...SIGN,
  'kms:Verify',
  ...GENERATE_MAC,
  ...VERIFY_MAC,
  'kms:DeriveSharedSecret',
  'kms:CreateGrant',
]);

/** Every action that changes how a key is managed. None of them may reach a user. */
export const ALL_ADMINISTRATIVE = [
  ...ADMIN.filter(a => !DESCRIBE.includes(a) && a !== 'kms:ListGrants' && a !== 'kms:RevokeGrant'),
  ...ADMIN_ROTATION,
  ...ADMIN_IMPORT,
  ...ADMIN_MULTI_REGION_PRIMARY,
];

/**
 * What the explicit denies name: patterns, so that the deny also covers actions KMS
 * adds later of the same kind and stays short in every key policy (a deny may be
 * wider than what it must cover; an allow never is). Administrators are denied every
 * cryptographic action, users every administrative change (reading the key's
 * settings is no change). Tests check that each covers exactly that among the
 * actions KMS has.
 */
export const DENIED_TO_ADMINISTRATORS = [
  'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:GenerateRandom',
  'kms:Sign', 'kms:Verify', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:DeriveSharedSecret', 'kms:CreateGrant',
];
export const DENIED_TO_USERS = [
  'kms:Put*', 'kms:Enable*', 'kms:Disable*', 'kms:Update*', 'kms:CreateAlias', 'kms:DeleteAlias',
  'kms:*TagResource', 'kms:*KeyDeletion', 'kms:*Import*', 'kms:RotateKeyOnDemand', 'kms:ReplicateKey',
];

/** Every KMS action this library knows, to expand wildcards asked for in `grant`. */
export const ALL_KNOWN = unique([
  ...ADMIN,
  ...ADMIN_ROTATION,
  ...ADMIN_IMPORT,
  ...ADMIN_MULTI_REGION_PRIMARY,
  ...GRANTS_FOR_AWS_RESOURCES,
  ...ALL_CRYPTOGRAPHIC,
  'kms:GetPublicKey',
  'kms:RetireGrant',
]);

/**
 * What one key usage lets its users do, split by purpose so that each grant method
 * can hand out just its own part.
 */
export interface UsageProfile {
  readonly usage: kms.KeyUsage;
  readonly encrypt: string[];
  readonly decrypt: string[];
  readonly sign: string[];
  readonly verify: string[];
  readonly generateMac: string[];
  readonly verifyMac: string[];
  readonly deriveSharedSecret: string[];
  /** Everything the key's user role gets. */
  readonly all: string[];
}

/** The actions a key of this spec and usage supports. */
export function usageProfile(spec: kms.KeySpec, usage: kms.KeyUsage): UsageProfile {
  const none: string[] = [];
  const profile = (parts: Omit<UsageProfile, 'all' | 'usage'>): UsageProfile => ({
    usage,
    ...parts,
    all: unique([...DESCRIBE, ...Object.values(parts).flat()]),
  });
  switch (usage) {
    case kms.KeyUsage.ENCRYPT_DECRYPT: {
      const symmetric = spec === kms.KeySpec.SYMMETRIC_DEFAULT;
      return profile({
        encrypt: symmetric ? SYMMETRIC_ENCRYPT : ASYMMETRIC_ENCRYPT,
        decrypt: symmetric ? SYMMETRIC_DECRYPT : ASYMMETRIC_DECRYPT,
        sign: none,
        verify: none,
        generateMac: none,
        verifyMac: none,
        deriveSharedSecret: none,
      });
    }
    case kms.KeyUsage.SIGN_VERIFY:
      return profile({
        sign: SIGN,
        verify: VERIFY,
        encrypt: none,
        decrypt: none,
        generateMac: none,
        verifyMac: none,
        deriveSharedSecret: none,
      });
    case kms.KeyUsage.GENERATE_VERIFY_MAC:
      return profile({
        generateMac: GENERATE_MAC,
        verifyMac: VERIFY_MAC,
        encrypt: none,
        decrypt: none,
        sign: none,
        verify: none,
        deriveSharedSecret: none,
      });
    case kms.KeyUsage.KEY_AGREEMENT:
      return profile({
        deriveSharedSecret: DERIVE_SHARED_SECRET,
        encrypt: none,
        decrypt: none,
        sign: none,
        verify: none,
        generateMac: none,
        verifyMac: none,
      });
    default:
      throw new Error(`keyUsage must be one of ${Object.values(kms.KeyUsage).join(', ')}, got ${usage}`);
  }
}

/**
 * Expands an action pattern such as `kms:ReEncrypt*` or `kms:*` against the actions
 * this library knows. Matching is case-insensitive, as IAM's is.
 */
export function expandAction(pattern: string): string[] {
  // IAM wildcards: `*` is any run of characters, `?` any one character.
  const body = Array.from(pattern)
    .map(c => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const regex = new RegExp(`^${body}$`, 'i');
  return ALL_KNOWN.filter(action => regex.test(action));
}

export function unique(actions: string[]): string[] {
  return Array.from(new Set(actions));
}

/**
 * Expands the actions asked of `grant` and checks that each belongs to the key's
 * usage, or is grant management (allowed for AWS resources only).
 */
export function usageActionsOf(patterns: string[], profile: UsageProfile, keyUsage: kms.KeyUsage, keySpec: kms.KeySpec): string[] {
  if (patterns.length === 0) {
    throw new Error('grant needs at least one action, got none');
  }
  const allowed = [...profile.all, ...GRANTS_FOR_AWS_RESOURCES];
  const result: string[] = [];
  for (const pattern of patterns) {
    const expanded = expandAction(pattern);
    if (expanded.length === 0) {
      throw new Error(`grant got an action that is not a KMS key action: "${pattern}"`);
    }
    const administrative = expanded.filter(a => ALL_ADMINISTRATIVE.includes(a));
    if (administrative.length > 0) {
      throw new Error(
        `grant must not give administrative actions, got "${pattern}" (${administrative.join(', ')}): use grantAdmin`,
      );
    }
    const foreign = expanded.filter(a => !allowed.includes(a));
    // A wildcard may match actions of other usages; only an exact action must fit.
    const fitting = expanded.filter(a => allowed.includes(a));
    if (foreign.length > 0 && (!pattern.includes('*') || fitting.length === 0)) {
      throw new Error(
        `grant got "${pattern}", which a ${keyUsage} key (keySpec ${keySpec}) does not support: it allows ${allowed.join(', ')}`,
      );
    }
    result.push(...fitting);
  }
  return unique(result);
}
