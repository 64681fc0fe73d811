import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { KeyAuditTrail } from '../audit/key-audit-trail';
import { HandlerVpcOptions } from '../custom-resources/handler-vpc';
import { DataClassification } from '../key/classification';

/*
 * The properties of a MultiRegionKeySet: the options every member shares, those of
 * one Region's member, and where the set's members go.
 */

/**
 * The options of a MultiRegionKeySet that every member of the set shares.
 */
export interface MultiRegionKeyOptions {
  /** How sensitive the protected data is; the same in every Region. */
  readonly classification: DataClassification;

  /**
   * The kind of key material, shared by every member. Changing it replaces every
   * member: the primary, and each replica, made again from the new primary.
   *
   * @default kms.KeySpec.SYMMETRIC_DEFAULT
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * What the keys are for, shared by every member.
   *
   * @default - the key spec's only usage
   */
  readonly keyUsage?: kms.KeyUsage;

  /**
   * The alias of the key in every Region, unless `regionOptions` names another.
   *
   * @default - `alias/<classification>/<the set's construct path>`, the same in every Region
   */
  readonly alias?: string;

  /**
   * A description of the key in every Region, unless `regionOptions` gives another.
   *
   * @default - names the classification, the set and the Region
   */
  readonly description?: string;

  /**
   * Who may assume the admin role of each Region's stack. See `ClassifiedKeyProps.adminRoleAssumedBy`.
   *
   * @default - IAM principals of the account that their own policies allow
   */
  readonly adminRoleAssumedBy?: iam.IPrincipal;

  /**
   * Who may assume each member's user role, made when `keyIn(region).userRole` is
   * read or when this is given.
   *
   * @default - no user role unless asked for
   */
  readonly userRoleAssumedBy?: iam.IPrincipal;

  /**
   * Services through which the keys may be used, by name; each Region's policy names
   * that Region's endpoints. See `ClassifiedKeyProps.viaServices`.
   *
   * @default - use is not limited to services
   */
  readonly viaServices?: string[];

  /**
   * Services KMS integrates with that this library does not list yet, to accept in
   * `viaServices`. See `ClassifiedKeyProps.extraViaServiceNames`.
   *
   * @default - `viaServices` may name only the services the library lists
   */
  readonly extraViaServiceNames?: string[];

  /**
   * Encryption context keys every request must include, in every Region.
   *
   * @default - no encryption context is required
   */
  readonly encryptionContextKeys?: string[];

  /**
   * Deny every principal outside this AWS Organizations organization, in every Region.
   *
   * @default - no organization guard
   */
  readonly organizationId?: string;

  /**
   * How often KMS rotates the key material, set on the primary; replicas share the
   * primary's material and follow its rotation.
   *
   * @default - the classification's period
   */
  readonly rotationPeriod?: Duration;

  /**
   * Whether KMS rotates the key material, set on the primary.
   *
   * @default - true for symmetric keys with KMS-made material
   */
  readonly enableKeyRotation?: boolean;

  /**
   * How long KMS waits before deleting a member once its deletion is scheduled, 7 to 30 days.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * What happens to each member when it leaves its stack. Members are kept unless
   * you opt in. A primary whose replicas still exist waits in `PendingReplicaDeletion`.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Make keys with no material (origin EXTERNAL). Each replica starts in
   * `PendingImport` and needs the same material imported as the primary's.
   *
   * @default false
   */
  readonly importKeyMaterial?: boolean;

  /**
   * Let IAM policies grant use of the keys, for PUBLIC and INTERNAL sets only.
   *
   * @default false
   */
  readonly allowAccountRootCryptography?: boolean;

  /**
   * The team that owns the keys, written to the `owner` tag of every member.
   *
   * @default - no owner tag
   */
  readonly owner?: string;

  /**
   * Compliance frameworks the keys are in scope of, written to every member's
   * `compliance-scope` tag.
   *
   * @default - no compliance-scope tag
   */
  readonly complianceScopes?: string[];

  /**
   * Whether each member registers with the audit trail of its Region and gets the
   * alarms of its classification there. Only PUBLIC and INTERNAL sets may go without.
   *
   * @default true
   */
  readonly monitoring?: boolean;
}

/**
 * What one Region's member has of its own.
 */
export interface RegionalKeyOptions {
  /**
   * The member's alias in this Region.
   *
   * @default - the set's `alias`
   */
  readonly alias?: string;

  /**
   * The member's description.
   *
   * @default - the set's `description`
   */
  readonly description?: string;

  /**
   * Tags of this Region's member only.
   *
   * @default - none beyond the set's
   */
  readonly tags?: { [key: string]: string };

  /**
   * The topic this Region's member's own alarm notifies (CONFIDENTIAL and RESTRICTED
   * sets), in this Region.
   *
   * @default - the topic of the Region's audit trail
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * The audit trail that watches this Region's member, in its stack's account and
   * Region: for example one declared with options in the Region's stack.
   *
   * @default - the trail of the Region's stack, `KeyAuditTrail.of`, created on first
   * use: its watch and alarms are in the Region's stack, and the account's one
   * CloudTrail trail is made in one stack of the app (see `KeyAuditTrailProps.createTrail`)
   */
  readonly auditTrail?: KeyAuditTrail;

  /**
   * Run the functions of this replica Region's primary key lookup (its handler and
   * the Provider framework's) in private subnets of a VPC of this Region, as AWS
   * Control Tower's CT.LAMBDA.PR.3 asks. The lookup calls the primary Region's
   * CloudFormation and KMS, so the subnets need egress through a NAT gateway. The
   * primary Region runs no function: setting it there is an error.
   *
   * @default - the functions run outside any VPC (CT.LAMBDA.PR.3's one documented exception)
   */
  readonly handlerVpc?: HandlerVpcOptions;

  /**
   * The KMS interface endpoints of this Region that direct calls to this Region's
   * member must come through (see `ClassifiedKeyProps.vpcEndpoints`): each Region's
   * member has its own policy, and its own network.
   *
   * @default - no network perimeter in this Region
   */
  readonly vpcEndpoints?: ec2.IInterfaceVpcEndpoint[];

  /**
   * The VPCs of this Region that direct calls to this Region's member must come
   * from (see `ClassifiedKeyProps.sourceVpcs`).
   *
   * @default - no network perimeter in this Region
   */
  readonly sourceVpcs?: ec2.IVpc[];
}

/**
 * Properties of a MultiRegionKeySet.
 */
export interface MultiRegionKeySetProps extends MultiRegionKeyOptions {
  /** The account of every member, 12 digits: multi-Region keys are never cross-account. */
  readonly account: string;

  /** The Region of the primary key. */
  readonly primaryRegion: string;

  /** The Regions of the replicas, at least one, none the primary's, all in its partition. */
  readonly replicaRegions: string[];

  /**
   * Stacks you already have, at most one per Region of the set, in the set's account.
   * The set makes a stack for each other Region.
   *
   * @default - a stack per Region, `<id>-<region>`, in the set's scope
   */
  readonly stacks?: Stack[];

  /**
   * Options of each Region's member of its own, by Region.
   *
   * @default - every member takes the set's options
   */
  readonly regionOptions?: { [region: string]: RegionalKeyOptions };

  /**
   * Let the keys' administrators promote a replica to primary (`kms:UpdatePrimaryRegion`,
   * the failover step), in every member's policy, to the set's Regions only.
   *
   * @default false
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-update.html
   */
  readonly allowPrimaryRegionUpdate?: boolean;
}
