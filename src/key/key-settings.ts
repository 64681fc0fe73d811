import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { usageProfile, UsageProfile } from './actions';
import { ClassificationRules, rulesFor } from './classification';
import { ClassifiedKeyProps } from './classified-key-props';
import { KeyHome } from './key-home';
import {
  resolveKeyUsage,
  resolveRotation,
  validateContextKeys,
  validateDaysRange,
  validateDescription,
  validateOrganizationId,
  validateServiceNames,
  validateTagValue,
} from './validation';

/*
 * What a ClassifiedKey's props resolve to: its classification's defaults, each prop
 * checked against the classification and the key's home, in the order the errors
 * name them.
 */

/** A ClassifiedKey's settings, checked. */
export interface KeySettings {
  readonly rules: ClassificationRules;
  readonly keySpec: kms.KeySpec;
  readonly keyUsage: kms.KeyUsage;
  /** The actions of the key's usage. */
  readonly profile: UsageProfile;
  /** Whether the key's material is imported. */
  readonly imported: boolean;
  /** Whether KMS can rotate the key's material. */
  readonly rotatable: boolean;
  readonly rotation: { enabled: boolean; periodDays?: number };
  /** The compliance-scope tag value: the scopes joined with spaces. */
  readonly complianceScope?: string;
  readonly pendingWindowDays: number;
  readonly removalPolicy: RemovalPolicy;
  readonly monitoring: boolean;
}

/** Resolves and checks a ClassifiedKey's props for its home. */
export function resolveKeySettings(props: ClassifiedKeyProps, home: KeyHome): KeySettings {
  const classification = props.classification;
  const rules = rulesFor(props.classification);
  const keySpec = props.keySpec ?? kms.KeySpec.SYMMETRIC_DEFAULT;
  const keyUsage = resolveKeyUsage(keySpec, props.keyUsage);
  const profile = usageProfile(keySpec, keyUsage);
  const symmetric = keySpec === kms.KeySpec.SYMMETRIC_DEFAULT;
  const imported = props.importKeyMaterial ?? false;

  validateDescription(props.description);
  validateOrganizationId(props.organizationId);
  validateServiceNames(props.viaServices, props.extraViaServiceNames);
  validateContextKeys(props.encryptionContextKeys);
  validateTagValue('owner', props.owner);
  const complianceScope = props.complianceScopes?.join(' ');
  for (const scopeName of props.complianceScopes ?? []) {
    validateTagValue('complianceScopes', scopeName);
    if (/\s/.test(scopeName)) {
      throw new Error(`complianceScopes entries must not contain spaces (they are joined with one), got "${scopeName}"`);
    }
  }
  validateTagValue('complianceScopes', complianceScope);

  if (props.encryptionContextKeys && !(symmetric && keyUsage === kms.KeyUsage.ENCRYPT_DECRYPT)) {
    throw new Error(`encryptionContextKeys apply only to symmetric encryption keys, got keySpec ${keySpec}`);
  }
  if (rules.usageMustBeNarrowed && !props.viaServices && !props.encryptionContextKeys) {
    throw new Error(
      `viaServices or encryptionContextKeys is required for a ${classification} key, got neither`,
    );
  }
  if (props.allowAccountRootCryptography && !rules.rootCryptographyAllowed) {
    throw new Error(
      `allowAccountRootCryptography must not be true for a ${classification} key: its use must be granted by the key policy, got true`,
    );
  }

  // Only symmetric keys with KMS-made material rotate; a replica as its primary does;
  // keys in a CloudHSM key store never.
  const rotatable = symmetric && !imported && home.materialRotates;
  const rotation = resolveRotation({
    classification,
    rules,
    rotatable,
    why: imported ? 'a key with imported material' : !home.materialRotates ? 'a key in a CloudHSM key store' : `keySpec ${keySpec}`,
    enableKeyRotation: props.enableKeyRotation,
    rotationPeriod: props.rotationPeriod,
  });

  const pendingWindowDays = validateDaysRange('pendingWindow', props.pendingWindow, 7, 30) ?? 30;
  const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
  const monitoring = props.monitoring ?? true;
  if (!monitoring && !rules.monitoringMayBeDisabled) {
    throw new Error(`monitoring must not be false for a ${classification} key, got false`);
  }
  if (!monitoring && (props.auditTrail || props.alarmTopic)) {
    throw new Error(`auditTrail and alarmTopic must not be given when monitoring is false, got ${[props.auditTrail && `auditTrail ${props.auditTrail.node.path}`, props.alarmTopic && `alarmTopic ${props.alarmTopic.node.path}`].filter(Boolean).join(' and ')}`);
  }
  if (removalPolicy === RemovalPolicy.SNAPSHOT) {
    throw new Error('removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a KMS key, got SNAPSHOT');
  }

  return { rules, keySpec, keyUsage, profile, imported, rotatable, rotation, complianceScope, pendingWindowDays, removalPolicy, monitoring };
}
