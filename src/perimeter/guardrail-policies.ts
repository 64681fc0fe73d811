// The documents of KeyGuardrails: a service control policy for the principals of the
// organization's member accounts and a resource control policy for their keys.
import * as iam from 'aws-cdk-lib/aws-iam';
import { DataClassification, rulesFor } from '../key/classification';
import { ClassifiedKey } from '../key/classified-key';

/**
 * What the guardrail documents are written from, validated (see `key-guardrails.ts`).
 *
 * @internal
 */
export interface GuardrailSettings {
  readonly organizationId: string;
  /** Role ARN patterns exempt from the SCP's denies and the RCP's network perimeter. */
  readonly exemptRoles: string[];
  /** Role ARN patterns that may pass the exempt roles to CloudFormation, or none: no such deny. */
  readonly deployRoles?: string[];
  /** KeyGrant handler roles: exempt from the grant deny and the network perimeter only. */
  readonly grantCreatorRoles: string[];
  readonly protectedTagValues: string[];
  readonly trailArns: string[];
  readonly logGroupArns: string[];
  readonly trustedAccounts: string[];
  readonly network?: {
    readonly vpcIds: string[];
    readonly vpcEndpointIds: string[];
    readonly sourceIps: string[];
  };
}

/** AWS Organizations' limit on an SCP and on an RCP, in characters, whitespace included. */
export const POLICY_MAX_CHARACTERS = 5120;

/**
 * What the SCP forbids on a classified key outside the exempt roles: each of these
 * rewrites who may use the key, destroys it or its material, hands a copy to another
 * Region under a new policy, re-points its aliases or changes the tags that classify it.
 */
const KEY_CHANGES = [
  'kms:PutKeyPolicy',
  'kms:ScheduleKeyDeletion',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  // The rotation period can be stretched to 2,560 days.
  'kms:EnableKeyRotation',
  // New imported material rotated in is material the importer knows.
  'kms:ImportKeyMaterial',
  'kms:RotateKeyOnDemand',
  'kms:DeleteImportedKeyMaterial',
  'kms:ReplicateKey',
  'kms:UpdatePrimaryRegion',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:TagResource',
  'kms:UntagResource',
];

/**
 * Making a role that would match an exempt pattern, or changing what an exempt role
 * trusts and may do: either would hand its exemption to someone else.
 */
const EXEMPT_ROLE_CHANGES = [
  'iam:CreateRole',
  'iam:DeleteRole',
  'iam:UpdateAssumeRolePolicy',
  'iam:PutRolePolicy',
  'iam:DeleteRolePolicy',
  'iam:AttachRolePolicy',
  'iam:DetachRolePolicy',
  'iam:PutRolePermissionsBoundary',
  'iam:DeleteRolePermissionsBoundary',
];

/** Turning off or rewriting a trail's recording. */
const TRAIL_CHANGES = ['cloudtrail:StopLogging', 'cloudtrail:DeleteTrail', 'cloudtrail:UpdateTrail', 'cloudtrail:PutEventSelectors'];

/** Deleting a log group or its evidence, shortening its retention, or blinding its alarms' filters. */
const LOG_CHANGES = [
  'logs:DeleteLogGroup',
  'logs:DeleteLogStream',
  'logs:PutRetentionPolicy',
  'logs:DisassociateKmsKey',
  'logs:DeleteMetricFilter',
  'logs:PutMetricFilter',
  // Encrypting the logs with a key of one's own, then disabling it, blinds the alarms.
  'logs:AssociateKmsKey',
];

/**
 * Rewriting the library's custom-resource functions: new code or layers would act with
 * their roles, which a key store's keys need exempt. CloudFormation names them
 * `<stack>-KmsConstructsCustomReso…-<suffix>`.
 */
const HANDLER_CHANGES = ['lambda:UpdateFunctionCode', 'lambda:UpdateFunctionConfiguration', 'lambda:DeleteFunction', 'lambda:PutFunctionConcurrency'];
const HANDLER_FUNCTIONS = 'arn:*:lambda:*:*:function:*-KmsConstructsCustomReso*';

/**
 * What makes every key of a custom key store unusable or destroys its material, and
 * leaving the organization, which sheds both policies. These actions name no resource.
 */
const STORE_AND_ORGANIZATION_CHANGES = [
  'kms:DisconnectCustomKeyStore',
  'kms:UpdateCustomKeyStore',
  'kms:DeleteCustomKeyStore',
  'cloudhsm:DeleteCluster',
  'cloudhsm:DeleteHsm',
  'cloudhsm:DeleteBackup',
  'organizations:LeaveOrganization',
];

/**
 * Every KMS action on a key that uses its material or changes it: all but the reads of
 * its settings (DescribeKey, GetKeyPolicy, ListKeyPolicies, ListResourceTags, ListGrants,
 * GetKeyRotationStatus, ListKeyRotations, GetKeyLastUsage), which AWS Config, Security Hub and the
 * library's own lookups make from AWS's network, and `kms:SynchronizeMultiRegionKey`,
 * KMS's internal sync of a multi-Region key. RCPs take no NotAction, so the list is
 * written out; a test proves it covers every other KMS action on a key.
 */
export const KEY_USE_AND_CHANGE = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
  'kms:GenerateMac',
  'kms:Verify*',
  'kms:Sign',
  'kms:GetPublicKey',
  'kms:DeriveSharedSecret',
  'kms:*Grant',
  'kms:PutKeyPolicy',
  'kms:Enable*',
  'kms:Disable*',
  'kms:RotateKeyOnDemand',
  'kms:*KeyDeletion',
  'kms:*Resource',
  'kms:*Alias',
  'kms:Update*',
  'kms:*Import*',
  'kms:ReplicateKey',
];

/** The tag values of classifications, lowercase, as ClassifiedKey writes them. */
export function tagValuesOf(classifications: DataClassification[]): string[] {
  return classifications.map(c => rulesFor(c).tagValue);
}

function exempt(settings: GuardrailSettings): Record<string, unknown> {
  return { ArnNotLike: { 'aws:PrincipalArn': settings.exemptRoles } };
}

/**
 * The SCP. Each statement is a deny, so the policy sits beside `FullAWSAccess` and
 * takes nothing away but what it names. SCPs govern the principals of member accounts,
 * root users included; not the management account, not service-linked roles.
 * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourcetag
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-requesttag
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
 */
export function serviceControlPolicy(settings: GuardrailSettings): iam.PolicyDocument {
  const tag = ClassifiedKey.CLASSIFICATION_TAG;
  const validValues = tagValuesOf(Object.values(DataClassification));
  // IgnoreCase: a key tagged by hand before the guardrails ("Restricted") is held too.
  const classified = { StringEqualsIgnoreCase: { [`aws:ResourceTag/${tag}`]: settings.protectedTagValues } };
  const protectedRoles = [...settings.exemptRoles, ...settings.deployRoles ?? [], ...settings.grantCreatorRoles];
  return new iam.PolicyDocument({
    minimize: false,
    statements: [
      new iam.PolicyStatement({
        sid: 'DenyClassifiedKeyChanges',
        effect: iam.Effect.DENY,
        actions: KEY_CHANGES,
        resources: ['*'],
        conditions: { ...classified, ...exempt(settings) },
      }),
      // A grant lets its grantee use the key without the key policy; only AWS services
      // that hold data for a principal (EBS, RDS...) need one. IfExists: a request that
      // does not say is taken as a grant for a person.
      new iam.PolicyStatement({
        sid: 'DenyClassifiedKeyGrantsForPeople',
        effect: iam.Effect.DENY,
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          ...classified,
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false' },
          ArnNotLike: { 'aws:PrincipalArn': [...settings.exemptRoles, ...settings.grantCreatorRoles] },
        },
      }),
      // StringNotEquals is true when the tag is missing too: no key without a classification.
      new iam.PolicyStatement({
        sid: 'DenyUnclassifiedKeys',
        effect: iam.Effect.DENY,
        actions: ['kms:CreateKey'],
        resources: ['*'],
        conditions: { StringNotEquals: { [`aws:RequestTag/${tag}`]: validValues } },
      }),
      // No classification but the four, set at creation or later.
      new iam.PolicyStatement({
        sid: 'DenyInvalidClassificationTags',
        effect: iam.Effect.DENY,
        actions: ['kms:TagResource'],
        resources: ['*'],
        conditions: { StringNotEquals: { [`aws:RequestTag/${tag}`]: validValues }, Null: { [`aws:RequestTag/${tag}`]: 'false' } },
      }),
      // The exempt and deploy roles (no look-alike, no new trust or permissions), the audit
      // trail and its log groups, the library's handler functions. Each action names its
      // own kind of resource, so one statement writes the exemptions once.
      new iam.PolicyStatement({
        sid: 'DenyProtectedResourceChanges',
        effect: iam.Effect.DENY,
        actions: [...EXEMPT_ROLE_CHANGES, ...TRAIL_CHANGES, ...LOG_CHANGES, ...HANDLER_CHANGES],
        resources: [...protectedRoles, ...settings.trailArns, ...settings.logGroupArns, HANDLER_FUNCTIONS],
        conditions: exempt(settings),
      }),
      new iam.PolicyStatement({
        sid: 'DenyKeyStoreAndOrganizationChanges',
        effect: iam.Effect.DENY,
        actions: STORE_AND_ORGANIZATION_CHANGES,
        resources: ['*'],
        conditions: exempt(settings),
      }),
      ...settings.deployRoles ? [new iam.PolicyStatement({
        sid: 'DenyPassingExemptRoles',
        effect: iam.Effect.DENY,
        actions: ['iam:PassRole'],
        resources: [...settings.exemptRoles, ...settings.grantCreatorRoles],
        conditions: { ArnNotLike: { 'aws:PrincipalArn': [...settings.exemptRoles, ...settings.deployRoles] } },
      })] : [],
    ],
  });
}

/**
 * The RCP: the organization's keys answer only the organization's principals (and the
 * trusted accounts), AWS services only for the organization's resources, and, with
 * trusted networks, only calls from them. RCPs govern the keys of member accounts; not
 * AWS managed keys, not calls by service-linked roles, never `kms:RetireGrant`.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/resource-control-policies.html
 * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourceorgid
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalisawsservice
 */
export function resourceControlPolicy(settings: GuardrailSettings): iam.PolicyDocument {
  const orFromTrusted = (accountKey: string) => settings.trustedAccounts.length > 0 ? { [accountKey]: settings.trustedAccounts } : {};
  const statements = [
    new iam.PolicyStatement({
      sid: 'DenyKeysOutsideOrganization',
      effect: iam.Effect.DENY,
      principals: [new iam.StarPrincipal()],
      actions: ['kms:*'],
      resources: ['*'],
      conditions: {
        StringNotEqualsIfExists: { 'aws:PrincipalOrgID': settings.organizationId, ...orFromTrusted('aws:PrincipalAccount') },
        Bool: { 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
    // A service acting for a resource of another organization (the confused deputy). The
    // Null check keeps integrations that send no aws:SourceAccount working.
    new iam.PolicyStatement({
      sid: 'DenyServicesForOtherOrganizations',
      effect: iam.Effect.DENY,
      principals: [new iam.StarPrincipal()],
      actions: ['kms:*'],
      resources: ['*'],
      conditions: {
        StringNotEqualsIfExists: { 'aws:SourceOrgID': settings.organizationId, ...orFromTrusted('aws:SourceAccount') },
        Null: { 'aws:SourceAccount': 'false' },
        Bool: { 'aws:PrincipalIsAWSService': 'true' },
      },
    }),
  ];
  // No principal of another account changes a classified key, whatever its key policy
  // says: the management account's roles and other members' roles included, which the SCP
  // does not govern there. Pipelines deploy keys in their own account.
  statements.push(new iam.PolicyStatement({
    sid: 'DenyClassifiedKeyChangesFromOtherAccounts',
    effect: iam.Effect.DENY,
    principals: [new iam.StarPrincipal()],
    actions: KEY_CHANGES,
    resources: ['*'],
    conditions: {
      StringEqualsIgnoreCase: { [`aws:ResourceTag/${ClassifiedKey.CLASSIFICATION_TAG}`]: settings.protectedTagValues },
      StringNotEqualsIfExists: { 'aws:PrincipalAccount': '${aws:ResourceAccount}' },
      BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' },
    },
  }));
  const network = settings.network;
  if (network) {
    const notFrom: Record<string, Record<string, string[]>> = {};
    if (network.sourceIps.length > 0) notFrom.NotIpAddressIfExists = { 'aws:SourceIp': network.sourceIps };
    const vpcKeys: Record<string, string[]> = {};
    if (network.vpcIds.length > 0) vpcKeys['aws:SourceVpc'] = network.vpcIds;
    if (network.vpcEndpointIds.length > 0) vpcKeys['aws:SourceVpce'] = network.vpcEndpointIds;
    if (Object.keys(vpcKeys).length > 0) notFrom.StringNotEqualsIfExists = vpcKeys;
    // Calls from a VPC carry no aws:SourceIp, calls from the internet no aws:SourceVpc:
    // the IfExists forms deny a call that matches none of the trusted networks.
    const outside = (sid: string, exemption: Record<string, unknown>) => new iam.PolicyStatement({
      sid,
      effect: iam.Effect.DENY,
      principals: [new iam.StarPrincipal()],
      actions: KEY_USE_AND_CHANGE,
      resources: ['*'],
      conditions: { ...notFrom, ...exemption, BoolIfExists: { 'aws:PrincipalIsAWSService': 'false', 'aws:ViaAWSService': 'false' } },
    });
    // The exempt roles of the key's own account only: a role of that name in another
    // account (a partner's, the management account's) gets no exemption.
    statements.push(
      outside('DenyKeysOutsideTrustedNetworks', { ArnNotLikeIfExists: { 'aws:PrincipalArn': [...settings.exemptRoles, ...settings.grantCreatorRoles] } }),
      outside('DenyOtherAccountsOutsideTrustedNetworks', {
        StringNotEqualsIfExists: { ...notFrom.StringNotEqualsIfExists, 'aws:PrincipalAccount': '${aws:ResourceAccount}' },
      }),
    );
  }
  return new iam.PolicyDocument({ minimize: false, statements });
}
