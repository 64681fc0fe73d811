import { Duration, Stack, Token, TokenComparison } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import { ClassificationRules, DataClassification } from './classification';
import type { KeyAuditTrail } from '../audit/key-audit-trail';

/*
 * How a ClassifiedKey reaches what watches it, without knowing what that is.
 *
 * The audit spine (audit/) builds its own key as a ClassifiedKey, so the key folder
 * must not import it: a key registers with its watcher through the interface below,
 * which KeyAuditTrail meets, and finds the default watcher of its stack
 * through the factory the audit folder installs when it is loaded. `KeyAuditTrail` is
 * named here as a type only, for the key's public `auditTrail` prop and attribute.
 */

/** The audit metrics a key's `metric*` methods read, by their CloudWatch names. */
export type KeyMetricName = 'KeyStateChanges' | 'KeyPolicyOrGrantChanges' | 'KeyAliasOrTagChanges' | 'KeyDeniedRequests';

/** A key registering with its watcher. */
export interface WatchedKey {
  /** The key: the scope of its own alarms, named in their descriptions by its path. */
  readonly key: Construct;
  readonly keyArn: string;
  readonly classification: DataClassification;
  readonly rules: ClassificationRules;
  /** Whether the key's material is imported, which may expire. */
  readonly importedMaterial: boolean;
  /** The key's own topic for its own alarms, instead of the watcher's. */
  readonly alarmTopic?: sns.ITopic;
}

/** What watches keys: counts their KMS events and alarms on them. */
export interface KeyWatcher extends IConstruct {
  /**
   * Makes the key's own alarms, as its classification asks, and returns them with
   * the watcher's shared alarms that watch it too.
   */
  _watch(key: WatchedKey): cloudwatch.Alarm[];
  /** A metric of one key. */
  _keyMetric(metricName: KeyMetricName, keyArn: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * The trail as a watcher. Copies of the library in one app share their trails (the
 * registry is the stage's), so a trail may come from a copy of another version: one
 * that watches keys another way is refused by name, not met with a missing method.
 */
export function asWatcher(trail: KeyAuditTrail, key: IConstruct): KeyWatcher {
  const candidate = trail as unknown as Partial<KeyWatcher>;
  if (typeof candidate._watch !== 'function' || typeof candidate._keyMetric !== 'function') {
    throw new Error(
      `the audit trail ${trail.node.path} comes from a copy of cdk-kms-constructs that watches keys another way, so it cannot watch ${key.node.path}: `
      + 'use one version of the library in the app (npm ls cdk-kms-constructs)',
    );
  }
  return trail;
}

let defaultWatcher: ((scope: IConstruct) => KeyAuditTrail) | undefined;

/** Installs how a key finds its stack's watcher when none is given. */
export function installDefaultWatcher(factory: (scope: IConstruct) => KeyAuditTrail): void {
  defaultWatcher = factory;
}

/** The watcher of the key's stack: `KeyAuditTrail.of(key)`. */
export function defaultWatcherOf(key: IConstruct): KeyAuditTrail {
  if (!defaultWatcher) {
    throw new Error(`no audit trail can watch ${key.node.path}: the library's audit module is not loaded (import the library from its package root)`);
  }
  return defaultWatcher(key);
}

/**
 * Alarms read metrics of their own account and region, so a key's watcher must be
 * in the key's.
 */
export function assertSameEnvironment(key: IConstruct, watcher: IConstruct): void {
  const keyStack = Stack.of(key);
  const watcherStack = Stack.of(watcher);
  for (const part of ['account', 'region'] as const) {
    if (Token.compareStrings(keyStack[part], watcherStack[part]) === TokenComparison.DIFFERENT) {
      throw new Error(
        `auditTrail must be in the key's ${part}: the key is in ${keyStack[part]}, the trail ${watcher.node.path} in ${watcherStack[part]}`,
      );
    }
  }
}

/** KMS's own metric of seconds left until a key's imported material expires (minimum over 5 minutes). */
export function materialExpiryMetric(keyId: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/KMS',
    metricName: 'SecondsUntilKeyMaterialExpiration',
    dimensionsMap: { KeyId: keyId },
    statistic: cloudwatch.Stats.MINIMUM,
    period: Duration.minutes(5),
    ...props,
  });
}
