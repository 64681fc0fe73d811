import { Duration, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ClassificationRules, DataClassification } from './classification';
import { KNOWN_VIA_SERVICES } from './consumers';

/*
 * Synth-time checks. Every message is lowercase, names the prop and shows the value
 * received, so that a mistake is found by `cdk synth` and not by a failed deploy.
 * Values that are still tokens are skipped: they are only known at deploy time.
 */

/** AWS's own limit on a key policy document. */
export const KEY_POLICY_MAX_BYTES = 32 * 1024;

const ALIAS_PATTERN = /^alias\/[a-zA-Z0-9:/_-]+$/;
const ALIAS_MAX_LENGTH = 256;
const RESERVED_ALIAS_PREFIX = 'alias/aws/';
const ORGANIZATION_ID_PATTERN = /^o-[a-z0-9]{10,32}$/;
const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
const TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const TAG_VALUE_MAX_LENGTH = 256;
const DESCRIPTION_MAX_LENGTH = 8192;

/** Which key usages each key spec supports. */
const USAGES_BY_SPEC: Record<string, kms.KeyUsage[]> = {
  [kms.KeySpec.SYMMETRIC_DEFAULT]: [kms.KeyUsage.ENCRYPT_DECRYPT],
  [kms.KeySpec.RSA_2048]: [kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeyUsage.SIGN_VERIFY],
  [kms.KeySpec.RSA_3072]: [kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeyUsage.SIGN_VERIFY],
  [kms.KeySpec.RSA_4096]: [kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeyUsage.SIGN_VERIFY],
  [kms.KeySpec.ECC_NIST_P256]: [kms.KeyUsage.SIGN_VERIFY, kms.KeyUsage.KEY_AGREEMENT],
  [kms.KeySpec.ECC_NIST_P384]: [kms.KeyUsage.SIGN_VERIFY, kms.KeyUsage.KEY_AGREEMENT],
  [kms.KeySpec.ECC_NIST_P521]: [kms.KeyUsage.SIGN_VERIFY, kms.KeyUsage.KEY_AGREEMENT],
  [kms.KeySpec.ECC_SECG_P256K1]: [kms.KeyUsage.SIGN_VERIFY],
  [kms.KeySpec.ECC_NIST_EDWARDS25519]: [kms.KeyUsage.SIGN_VERIFY],
  [kms.KeySpec.HMAC_224]: [kms.KeyUsage.GENERATE_VERIFY_MAC],
  [kms.KeySpec.HMAC_256]: [kms.KeyUsage.GENERATE_VERIFY_MAC],
  [kms.KeySpec.HMAC_384]: [kms.KeyUsage.GENERATE_VERIFY_MAC],
  [kms.KeySpec.HMAC_512]: [kms.KeyUsage.GENERATE_VERIFY_MAC],
  [kms.KeySpec.SM2]: [kms.KeyUsage.ENCRYPT_DECRYPT, kms.KeyUsage.SIGN_VERIFY, kms.KeyUsage.KEY_AGREEMENT],
  [kms.KeySpec.ML_DSA_44]: [kms.KeyUsage.SIGN_VERIFY],
  [kms.KeySpec.ML_DSA_65]: [kms.KeyUsage.SIGN_VERIFY],
  [kms.KeySpec.ML_DSA_87]: [kms.KeyUsage.SIGN_VERIFY],
};

/**
 * The key usage for a spec: the one asked for, checked against the spec, or the
 * spec's only usage. A spec with several usages (RSA, ECC NIST, SM2) needs one named.
 */
export function resolveKeyUsage(spec: kms.KeySpec, usage: kms.KeyUsage | undefined): kms.KeyUsage {
  const allowed = USAGES_BY_SPEC[spec];
  if (!allowed) {
    throw new Error(`keySpec must be one of ${Object.keys(USAGES_BY_SPEC).join(', ')}, got ${spec}`);
  }
  if (usage === undefined) {
    if (allowed.length > 1) {
      throw new Error(`keyUsage is required for keySpec ${spec} (one of ${allowed.join(', ')}), got undefined`);
    }
    return allowed[0];
  }
  if (!allowed.includes(usage)) {
    throw new Error(`keyUsage must be one of ${allowed.join(', ')} for keySpec ${spec}, got ${usage}`);
  }
  if (spec === kms.KeySpec.RSA_2048 && usage === kms.KeyUsage.ENCRYPT_DECRYPT) {
    throw new Error(
      `keySpec ${spec} is too short for ENCRYPT_DECRYPT: Control Tower control CT.KMS.PR.2 requires RSA keys for encryption longer than 2048 bits, use RSA_3072 or RSA_4096`,
    );
  }
  return usage;
}

export function validateAlias(prop: string, alias: string): void {
  if (Token.isUnresolved(alias)) return;
  if (!alias.startsWith('alias/')) {
    throw new Error(`${prop} must start with "alias/", got "${alias}"`);
  }
  if (alias.toLowerCase().startsWith(RESERVED_ALIAS_PREFIX)) {
    throw new Error(`${prop} must not start with the reserved prefix "${RESERVED_ALIAS_PREFIX}", got "${alias}"`);
  }
  if (alias.length > ALIAS_MAX_LENGTH) {
    throw new Error(`${prop} must be at most ${ALIAS_MAX_LENGTH} characters, got ${alias.length} ("${alias.slice(0, 40)}...")`);
  }
  if (!ALIAS_PATTERN.test(alias)) {
    throw new Error(`${prop} may contain only letters, digits, ":", "/", "_" and "-" after "alias/", got "${alias}"`);
  }
}

/** A name for an alias derived from parts that may contain any character. */
export function deriveAlias(parts: string[]): string {
  const body = parts
    .map(p => p.replace(/[^a-zA-Z0-9:_-]/g, '-'))
    .filter(p => p.length > 0)
    .join('/');
  return `alias/${body}`.slice(0, ALIAS_MAX_LENGTH);
}

/**
 * A whole number of days within [min, max]. A duration known only at deploy time (a
 * parameter) is passed through as its token, for CloudFormation to check.
 */
export function validateDaysRange(prop: string, value: Duration | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (Token.isUnresolved(value.toString())) {
    try {
      return value.toDays();
    } catch {
      throw new Error(`${prop} must be given with Duration.days() when it is only known at deploy time, got ${value.toString()}`);
    }
  }
  const days = value.toDays({ integral: false });
  if (!Number.isInteger(days)) {
    throw new Error(`${prop} must be a whole number of days, got ${value.toHumanString()}`);
  }
  if (days < min || days > max) {
    throw new Error(`${prop} must be between ${min} and ${max} days, got ${days}`);
  }
  return days;
}

export function validateOrganizationId(organizationId: string | undefined): void {
  if (organizationId === undefined || Token.isUnresolved(organizationId)) return;
  if (!ORGANIZATION_ID_PATTERN.test(organizationId)) {
    throw new Error(`organizationId must look like "o-" followed by 10 to 32 lowercase letters or digits, got "${organizationId}"`);
  }
}

export function validateServiceNames(viaServices: string[] | undefined, extraNames: string[] = []): void {
  for (const service of extraNames) {
    if (!Token.isUnresolved(service) && !SERVICE_NAME_PATTERN.test(service)) {
      throw new Error(`extraViaServiceNames entries must be service names such as "s3", got "${service}"`);
    }
  }
  if (viaServices === undefined) {
    if (extraNames.length > 0) throw new Error(`extraViaServiceNames applies to viaServices, got ${extraNames.join(', ')} without viaServices`);
    return;
  }
  if (viaServices.length === 0) {
    throw new Error('viaServices must name at least one service when given, got []');
  }
  for (const service of viaServices) {
    if (Token.isUnresolved(service)) continue;
    if (!SERVICE_NAME_PATTERN.test(service)) {
      throw new Error(
        `viaServices entries must be service names such as "s3" or "dynamodb" (the region is added), got "${service}"`,
      );
    }
    if (!KNOWN_VIA_SERVICES.includes(service) && !extraNames.includes(service)) {
      const near = KNOWN_VIA_SERVICES.filter(known => editDistance(known, service) <= 2);
      throw new Error(
        `viaServices entries must be services integrated with KMS, got "${service}"${near.length > 0 ? ` (did you mean ${near.map(n => `"${n}"`).join(' or ')}?)` : ''}: `
        + 'a key narrowed to a name that is no service is unusable; a service the library does not list yet is accepted when named in extraViaServiceNames too',
      );
    }
  }
  const duplicate = viaServices.find((s, i) => viaServices.indexOf(s) !== i);
  if (duplicate !== undefined) {
    throw new Error(`viaServices must not repeat a service, got "${duplicate}" twice`);
  }
}

export function validateContextKeys(keys: string[] | undefined): void {
  if (keys === undefined) return;
  if (keys.length === 0) {
    throw new Error('encryptionContextKeys must name at least one key when given, got []');
  }
  for (const key of keys) {
    if (Token.isUnresolved(key)) continue;
    if (key.trim().length === 0) {
      throw new Error(`encryptionContextKeys must not contain an empty key, got ${JSON.stringify(keys)}`);
    }
    if (/[\s*?]/.test(key)) {
      throw new Error(`encryptionContextKeys entries must not contain spaces or wildcards, got "${key}"`);
    }
  }
}

const TAG_KEY_MAX_LENGTH = 128;

/**
 * A tag of the user's: a key of 1 to 128 characters, not `aws:` (AWS's own), and not
 * one of `reserved` (tags the construct writes from its props), and a valid value.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/tagging-keys.html
 */
export function validateTag(prop: string, key: string, value: string, reserved: string[]): void {
  if (Token.isUnresolved(key)) return;
  if (key.length === 0 || key.length > TAG_KEY_MAX_LENGTH) {
    throw new Error(`${prop} keys must be 1 to ${TAG_KEY_MAX_LENGTH} characters, got "${key}" (${key.length})`);
  }
  if (key.toLowerCase().startsWith('aws:')) {
    throw new Error(`${prop} keys must not start with aws:, which AWS reserves, got "${key}"`);
  }
  if (!TAG_VALUE_PATTERN.test(key)) {
    throw new Error(`${prop} keys may contain only letters, digits, spaces and _ . : / = + - @, got "${key}"`);
  }
  if (reserved.includes(key)) {
    throw new Error(`${prop} must not set "${key}", which the construct writes from its own props (${reserved.join(', ')}), got "${key}": "${value}"`);
  }
  validateTagValue(`${prop}.${key}`, value);
}

export function validateTagValue(prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (value.length === 0) {
    throw new Error(`${prop} must not be empty when given, got ""`);
  }
  if (value.length > TAG_VALUE_MAX_LENGTH) {
    throw new Error(`${prop} must be at most ${TAG_VALUE_MAX_LENGTH} characters as a tag value, got ${value.length}`);
  }
  if (!TAG_VALUE_PATTERN.test(value)) {
    throw new Error(`${prop} may contain only letters, digits, spaces and _ . : / = + - @ as a tag value, got "${value}"`);
  }
}

export function validateDescription(description: string | undefined): void {
  if (description === undefined || Token.isUnresolved(description)) return;
  if (description.length > DESCRIPTION_MAX_LENGTH) {
    throw new Error(`description must be at most ${DESCRIPTION_MAX_LENGTH} characters, got ${description.length}`);
  }
}

/** What decides a key's rotation. */
export interface RotationRequest {
  readonly classification: DataClassification;
  readonly rules: ClassificationRules;
  /** Whether KMS can rotate the key: symmetric, with KMS-made material. */
  readonly rotatable: boolean;
  /** Why a key that cannot rotate cannot, for messages. */
  readonly why: string;
  readonly enableKeyRotation?: boolean;
  readonly rotationPeriod?: Duration;
}

/**
 * Whether the key rotates and how often: on for keys KMS can rotate, with the
 * classification's period unless a shorter one is asked for; an error for anything
 * a key cannot do or its classification does not allow.
 */
export function resolveRotation(request: RotationRequest): { enabled: boolean; periodDays?: number } {
  const { classification, rules, rotatable, why, enableKeyRotation, rotationPeriod } = request;
  if (!rotatable && enableKeyRotation) {
    throw new Error(`enableKeyRotation must not be true for ${why}: KMS rotates only symmetric keys with KMS-made material, got true`);
  }
  if (!rotatable && rotationPeriod !== undefined) {
    throw new Error(`rotationPeriod must not be set for ${why}, got ${rotationPeriod.toHumanString()}: the key does not rotate`);
  }
  if (rotatable && enableKeyRotation === false && !rules.rotationMayBeDisabled) {
    throw new Error(`enableKeyRotation must not be false for a ${classification} key, got false`);
  }
  if (enableKeyRotation === false && rotationPeriod !== undefined) {
    throw new Error(`rotationPeriod must not be set when enableKeyRotation is false, got ${rotationPeriod.toHumanString()}`);
  }
  const requestedDays = validateDaysRange('rotationPeriod', rotationPeriod, 90, 2560);
  if (requestedDays !== undefined && Token.isUnresolved(requestedDays) && rules.rotationIsCeiling) {
    throw new Error(`rotationPeriod of a ${classification} key must be known at synth, to hold it to at most ${rules.rotationDays} days, got a value known only at deploy time (${rotationPeriod!.toString()})`);
  }
  if (requestedDays !== undefined && rules.rotationIsCeiling && requestedDays > rules.rotationDays) {
    throw new Error(`rotationPeriod for a ${classification} key must be at most ${rules.rotationDays} days, got ${requestedDays}`);
  }
  const enabled = rotatable && enableKeyRotation !== false;
  return { enabled, periodDays: enabled ? requestedDays ?? rules.rotationDays : undefined };
}

/** The Levenshtein distance of two short strings. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

const ALIASES = Symbol.for('cdk-kms-constructs.aliases');

/**
 * Records that `owner` makes the alias, and fails when a key of the same stack (or of
 * a stack of the same account and Region, where both are known) made it already:
 * CloudFormation would fail the second at deploy time.
 */
export function claimAlias(stack: import('aws-cdk-lib').Stack, aliasName: string, owner: string): void {
  if (Token.isUnresolved(aliasName)) return;
  const envKnown = !Token.isUnresolved(stack.account) && !Token.isUnresolved(stack.region);
  const holder = (envKnown ? stack.node.root : stack) as unknown as Record<symbol, Map<string, string> | undefined>;
  const claimed = holder[ALIASES] ?? new Map<string, string>();
  if (!holder[ALIASES]) Object.defineProperty(holder, ALIASES, { value: claimed, enumerable: false });
  const where = envKnown ? `${stack.account}/${stack.region} ${aliasName}` : aliasName;
  const existing = claimed.get(where);
  if (existing !== undefined && existing !== owner) {
    throw new Error(`alias must be unique in an account and Region, got "${aliasName}" for ${owner}, which ${existing} has already`);
  }
  claimed.set(where, owner);
}
