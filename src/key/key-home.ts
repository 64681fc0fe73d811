import { CfnResource, IResolvable, ITaggable, TagManager, TagType } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { RestrictedAdministration } from './key-policy';
import { HSM_KEY_TYPE } from '../custom-resources/resource-types';

/*
 * Where a ClassifiedKey's material lives: the one seam between the key and its
 * backing resource. The policy model, the grants, the alias, the tags and the alarms
 * are the ClassifiedKey's, the same for every home; a home only renders the resource
 * and says what it cannot take.
 *
 * - a standard key (`AWS::KMS::Key`);
 * - a multi-Region primary (`AWS::KMS::Key` with `MultiRegion`);
 * - a multi-Region replica (`AWS::KMS::ReplicaKey`), whose spec, usage, origin and
 *   rotation are its primary's;
 * - a key in a CloudHSM custom key store (a custom resource: CloudFormation has none),
 *   symmetric, never rotated, never multi-Region, never imported.
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

/**
 * The primary of a multi-Region key: replicas in other Regions share its ID and
 * material. `administration` says who may replicate it, and move its primary, where.
 */
export function multiRegionPrimaryHome(administration: RestrictedAdministration[]): KeyHome {
  return keyResource(true, administration);
}

/**
 * A replica of a multi-Region primary. KMS shares the primary's spec, usage, origin
 * and rotation with it; its policy, description, tags and pending window are its own.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-replicate.html
 */
export function replicaHome(primaryKeyArn: string, administration: RestrictedAdministration[] = []): KeyHome {
  return {
    cfnType: 'AWS::KMS::ReplicaKey',
    setsRotation: false,
    materialRotates: true,
    policyWriters: [],
    multiRegionPrimary: false,
    administration,
    check(props) {
      for (const [name, value] of Object.entries({ enableKeyRotation: props.enableKeyRotation, rotationPeriod: props.rotationPeriod })) {
        if (value !== undefined) {
          throw new Error(`${name} is set on the primary of a multi-Region key, whose replicas follow its rotation, got ${String(value)} for a replica`);
        }
      }
    },
    create(scope, spec) {
      const resource = new kms.CfnReplicaKey(scope, 'Resource', {
        primaryKeyArn,
        description: spec.description,
        keyPolicy: spec.keyPolicy,
        pendingWindowInDays: spec.pendingWindowInDays,
      });
      return { resource, keyArn: resource.attrArn, keyId: resource.attrKeyId };
    },
  };
}

function keyResource(multiRegion: boolean, administration: RestrictedAdministration[]): KeyHome {
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

/** What a key in a CloudHSM key store needs of its custom resource. */
export interface HsmKeyResourceOptions {
  /** The Provider framework's service token of the stack's HSM key handler. */
  readonly serviceToken: string;
  /** The ARN of the handler's role, which creates the key and so writes its policy. */
  readonly handlerRoleArn: string;
  readonly customKeyStoreId: string;
}

/**
 * A key in a CloudHSM custom key store: KMS makes its material in the store's HSMs
 * (`CreateKey` with `Origin: AWS_CLOUDHSM`), through a custom resource.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/create-cmk-keystore.html
 */
export function hsmKeyHome(options: HsmKeyResourceOptions): KeyHome {
  return {
    cfnType: HSM_KEY_TYPE,
    setsRotation: false,
    materialRotates: false,
    policyWriters: [options.handlerRoleArn],
    multiRegionPrimary: false,
    administration: [],
    check(props) {
      const refuse = (name: string, value: unknown, why: string) => {
        throw new Error(`${name} must not be set for a key in a CloudHSM key store, which ${why}, got ${String(value)}`);
      };
      if (props.keySpec !== undefined && props.keySpec !== kms.KeySpec.SYMMETRIC_DEFAULT) refuse('keySpec', props.keySpec, 'holds symmetric encryption keys only');
      if (props.keyUsage !== undefined && props.keyUsage !== kms.KeyUsage.ENCRYPT_DECRYPT) refuse('keyUsage', props.keyUsage, 'holds symmetric encryption keys only');
      if (props.importKeyMaterial) refuse('importKeyMaterial', true, 'makes the material in its HSMs');
      if (props.enableKeyRotation) refuse('enableKeyRotation', true, 'KMS never rotates');
      if (props.rotationPeriod !== undefined) refuse('rotationPeriod', props.rotationPeriod, 'KMS never rotates');
    },
    create(scope, spec) {
      const resource = new HsmKeyResource(scope, 'Resource', options, spec);
      return { resource, keyArn: resource.getAtt('Arn').toString(), keyId: resource.getAtt('KeyId').toString() };
    },
  };
}

/** The custom resource of a key in a CloudHSM key store: taggable, as a key is. */
class HsmKeyResource extends CfnResource implements ITaggable {
  public readonly tags = new TagManager(TagType.KEY_VALUE, HSM_KEY_TYPE, undefined, { tagPropertyName: 'Tags' });

  constructor(scope: Construct, id: string, options: HsmKeyResourceOptions, spec: HomeSpec) {
    super(scope, id, {
      type: HSM_KEY_TYPE,
      properties: {
        ServiceToken: options.serviceToken,
        CustomKeyStoreId: options.customKeyStoreId,
        Description: spec.description,
        KeyPolicy: spec.keyPolicy,
        PendingWindowInDays: spec.pendingWindowInDays,
      },
    });
  }
}
