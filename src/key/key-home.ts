import { CfnResource, IResolvable } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { RestrictedAdministration } from './key-policy';

/*
 * Where a ClassifiedKey's material lives: the one seam between the key and its
 * backing resource. The policy model, the grants, the alias, the tags and the alarms
 * are the ClassifiedKey's, the same for every home; a home only renders the resource
 * and says what it cannot take.
 *
 * - a standard key (`AWS::KMS::Key`), here;
 * - a multi-Region primary (`AWS::KMS::Key` with `MultiRegion`) and replica
 *   (`AWS::KMS::ReplicaKey`, whose spec, usage, origin and rotation are its
 *   primary's), in multi-region/multi-region-homes.ts;
 * - a key in a CloudHSM custom key store (a custom resource: CloudFormation has none),
 *   symmetric, never rotated, never multi-Region, never imported, in
 *   key-store/hsm-key-home.ts.
 */

/**
 * The property through which this library's own constructs give a ClassifiedKey its
 * home. A symbol, so that it is no part of the jsii API: other languages build
 * standard keys, and multi-Region keys through MultiRegionKeySet.
 */
export const KEY_HOME = Symbol.for('cdk-kms-constructs.keyHome');

/** What a home renders. */
export interface HomeSpec {
  readonly description: string;
  /** The key policy, rendered when the template is. */
  readonly keyPolicy: IResolvable;
  readonly keySpec: kms.KeySpec;
  readonly keyUsage: kms.KeyUsage;
  readonly imported: boolean;
  readonly enableKeyRotation: boolean;
  readonly rotationPeriodInDays?: number;
  readonly pendingWindowInDays: number;
}

/** The ClassifiedKey props a home may refuse, by name. */
export interface HomeChecked {
  readonly enableKeyRotation?: boolean;
  readonly rotationPeriod?: unknown;
  readonly keySpec?: kms.KeySpec;
  readonly keyUsage?: kms.KeyUsage;
  readonly importKeyMaterial?: boolean;
}

export interface KeyHome {
  /** The CloudFormation type of the backing resource. */
  readonly cfnType: string;
  /** Whether the key's own properties set rotation (a replica's follows its primary). */
  readonly setsRotation: boolean;
  /** Whether KMS can rotate the key's material at all (never in a CloudHSM key store). */
  readonly materialRotates: boolean;
  /** Principals, besides the deploy role, that write the key policy: who creates the key. */
  readonly policyWriters: string[];
  /** Whether the key is a multi-Region primary. */
  readonly multiRegionPrimary: boolean;
  /** Administration of the home's own, beyond the policy model's: replication, promotion. */
  readonly administration: RestrictedAdministration[];
  /** Refuses what the home cannot take, naming the prop and the value. */
  check(props: HomeChecked): void;
  /** Renders the backing resource. */
  create(scope: Construct, spec: HomeSpec): { resource: CfnResource; keyArn: string; keyId: string };
}

/** A key of its own in its stack's Region. */
export const STANDARD_HOME: KeyHome = keyResource(false, []);

/** An `AWS::KMS::Key`: a key of its own, or a multi-Region primary. */
export function keyResource(multiRegion: boolean, administration: RestrictedAdministration[]): KeyHome {
  return {
    cfnType: 'AWS::KMS::Key',
    setsRotation: true,
    materialRotates: true,
    policyWriters: [],
    multiRegionPrimary: multiRegion,
    administration,
    check() {},
    create(scope, spec) {
      const resource = new kms.CfnKey(scope, 'Resource', {
        description: spec.description,
        keyPolicy: spec.keyPolicy,
        keySpec: spec.keySpec,
        keyUsage: spec.keyUsage,
        origin: spec.imported ? 'EXTERNAL' : undefined,
        multiRegion: multiRegion ? true : undefined,
        enableKeyRotation: spec.enableKeyRotation,
        rotationPeriodInDays: spec.rotationPeriodInDays,
        pendingWindowInDays: spec.pendingWindowInDays,
      });
      return { resource, keyArn: resource.attrArn, keyId: resource.attrKeyId };
    },
  };
}
