import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DataClassification } from './classification';
import type { KeyAuditTrail } from '../audit/key-audit-trail';

/**
 * Properties of a ClassifiedKey.
 */
export interface ClassifiedKeyProps {
  /**
   * How sensitive the protected data is. Drives rotation, who may use the key, MFA
   * for administrators and the `data-classification` tag.
   */
  readonly classification: DataClassification;

  /**
   * The key's alias, `alias/` followed by letters, digits, `:`, `/`, `_` or `-`.
   *
   * @default - `alias/<classification>/<stack name>/<construct path>`
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/alias-about.html
   */
  readonly alias?: string;

  /**
   * A description of the key, at most 8192 characters.
   *
   * @default - names the classification and the construct path
   */
  readonly description?: string;

  /**
   * The kind of key material. Changing it replaces the key.
   *
   * @default kms.KeySpec.SYMMETRIC_DEFAULT
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/key-types.html
   */
  readonly keySpec?: kms.KeySpec;

  /**
   * What the key is for. Required for key specs that support several usages (RSA,
   * ECC NIST, SM2); otherwise the spec's only usage. Changing it replaces the key.
   *
   * @default - the key spec's only usage
   */
  readonly keyUsage?: kms.KeyUsage;

  /**
   * The role that administers the key: it can manage the key and cannot use it.
   * For CONFIDENTIAL and RESTRICTED keys an adopted role's trust policy is not ours
   * to change, so the key policy requires MFA of its sessions instead.
   *
   * @default - the admin role of the stack's keys of this classification (and
   * `adminRoleAssumedBy`), created by the first of them, named after its construct
   * path and Region
   */
  readonly adminRole?: iam.IRole;

  /**
   * The role that uses the key: it can use the key and cannot manage it.
   *
   * @default - a role of the key's own, trusted by `userRoleAssumedBy`, made when
   * `key.userRole` is first read or `userRoleAssumedBy` is given; none otherwise
   */
  readonly userRole?: iam.IRole;

  /**
   * Who may assume the admin role the construct creates. For CONFIDENTIAL and
   * RESTRICTED keys the trust policy also requires MFA, so this must be a principal
   * that can present it (not a service).
   *
   * @default - IAM principals of this account that their own policies allow
   */
  readonly adminRoleAssumedBy?: iam.IPrincipal;

  /**
   * Who may assume the user role the construct creates.
   *
   * @default - IAM principals of this account that their own policies allow
   */
  readonly userRoleAssumedBy?: iam.IPrincipal;

  /**
   * Services through which the key may be used, by name (`s3`, `dynamodb`,
   * `secretsmanager`): use is allowed only with `kms:ViaService` set to one of them
   * in this stack's region, from this account.
   *
   * @default - use is not limited to services (required for RESTRICTED unless
   * `encryptionContextKeys` is given)
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
   */
  readonly viaServices?: string[];

  /**
   * Services KMS integrates with that this library does not list yet, by name, to
   * accept in `viaServices` as given. A name in `viaServices` that is no service would
   * leave the key unusable through it, so unknown names are errors unless named here.
   *
   * @default - `viaServices` may name only the services the library lists
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/service-integration.html
   */
  readonly extraViaServiceNames?: string[];

  /**
   * Encryption context keys that every request that carries an encryption context
   * must include. Only for symmetric encryption keys.
   *
   * @default - no encryption context is required
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context
   */
  readonly encryptionContextKeys?: string[];

  /**
   * Deny every principal outside this AWS Organizations organization (`o-...`).
   * AWS services calling KMS as themselves (service principals) are exempt; a
   * service acting for a principal (through `kms:ViaService`) is held to that
   * principal's organization.
   *
   * @default - no organization guard
   */
  readonly organizationId?: string;

  /**
   * The interface VPC endpoints of KMS that direct calls to the key must come
   * through (`aws:SourceVpce`): a call from anywhere else is denied, whatever the
   * caller's permissions, but the reads of the key's settings (describe, policy,
   * tags, grants, rotation). Calls an AWS service makes for a principal (S3, DynamoDB,
   * Secrets Manager using the key for their resources), AWS service principals and
   * the principals that write the key's policy (the deploy role, a handler) keep
   * working. With `sourceVpcs` too, a call through either is allowed. Endpoints of
   * other Regions or of other services are refused when known at synth; name an
   * endpoint of another stack or app by `ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes`.
   *
   * @default - no network perimeter
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/vpce-key-policy.html
   */
  readonly vpcEndpoints?: ec2.IInterfaceVpcEndpoint[];

  /**
   * The VPCs that direct calls to the key must come from (`aws:SourceVpc`, set for
   * calls through any VPC endpoint of those VPCs), with the same exceptions as
   * `vpcEndpoints`.
   *
   * @default - no network perimeter
   */
  readonly sourceVpcs?: ec2.IVpc[];

  /**
   * How often KMS rotates a symmetric key, 90 to 2560 days. For CONFIDENTIAL and
   * RESTRICTED keys the classification's period is also the longest allowed.
   *
   * @default - the classification's period: 365 days (PUBLIC, INTERNAL), 180 days
   * (CONFIDENTIAL), 90 days (RESTRICTED)
   */
  readonly rotationPeriod?: Duration;

  /**
   * Whether KMS rotates the key automatically. Only symmetric keys with KMS-made
   * material rotate; asking for it on any other key is an error. It may be turned
   * off only for PUBLIC and INTERNAL keys.
   *
   * @default - true for symmetric keys with KMS-made material, false otherwise
   */
  readonly enableKeyRotation?: boolean;

  /**
   * How long KMS waits before deleting the key once deletion is scheduled, 7 to 30
   * days.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;

  /**
   * What happens to the key when it leaves the stack. Keys are kept unless you opt
   * in; even with DESTROY, KMS waits the pending window before deleting.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Make a key with no material (origin EXTERNAL) for you to import your own
   * (BYOK). Only the key's administrators may import or delete the material.
   * Changing it replaces the key.
   *
   * @default false
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html
   */
  readonly importKeyMaterial?: boolean;

  /**
   * Let IAM policies in this account grant use of the key, by allowing the key's
   * cryptographic actions to the account root. Only PUBLIC and INTERNAL keys may.
   *
   * @default false
   */
  readonly allowAccountRootCryptography?: boolean;

  /**
   * Let the grant methods take `ClassifiedKey.rolesUnderPath(path)`: every role of
   * the key's account under an IAM path, by `aws:PrincipalArn` pattern. Anyone who
   * can create a role under the path can then use the key, so RESTRICTED keys refuse
   * fleets unless this is `true`; `false` refuses them at any classification.
   *
   * @default - true, except for RESTRICTED keys
   */
  readonly allowFleetGrants?: boolean;

  /**
   * The team that owns the key, written to the `owner` tag.
   *
   * @default - no owner tag
   */
  readonly owner?: string;

  /**
   * Compliance frameworks the key is in scope of (`pci-dss`, `hipaa`), written
   * space-separated to the `compliance-scope` tag.
   *
   * @default - no compliance-scope tag
   */
  readonly complianceScopes?: string[];

  /**
   * The role that creates the resources the key encrypts (a DynamoDB table, a
   * secret, a volume) and so calls KMS through their service while creating them.
   * It gets only the calls each service documents at creation, only through the
   * services the key is used with, never administration.
   *
   * The key policy also names it as a role that may change the key policy, since
   * CloudFormation updates the policy as this role.
   *
   * @default - the CloudFormation execution role of the stack's synthesizer
   * (`DefaultStackSynthesizer`); required with a synthesizer that has none
   */
  readonly deployRole?: iam.IRole;

  /**
   * The audit trail whose watch counts this key's events and raises its alarms: one
   * in the key's account and Region.
   *
   * @default - the trail of the key's stack, `KeyAuditTrail.of(this)`, created on
   * first use
   */
  readonly auditTrail?: KeyAuditTrail;

  /**
   * The topic the key's own alarm notifies: CONFIDENTIAL and RESTRICTED keys alarm on
   * denied requests. The trail's shared alarms notify the trail's topic; an error
   * for a key without an alarm of its own.
   *
   * @default - the audit trail's alarm topic
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Whether the key registers with the audit trail of its stack (creating it if
   * needed) and gets the alarms of its classification. Only PUBLIC and INTERNAL keys
   * may go without. A trail's shared alarms watch every key of its account and
   * Region, so where a trail exists they watch this one too.
   *
   * @default true
   */
  readonly monitoring?: boolean;
}
