// Organization guardrails for keys: an SCP and an RCP, written from a few props and held
// to AWS Organizations' limits at synth.
import { Annotations, Stack, Token } from 'aws-cdk-lib';
import * as organizations from 'aws-cdk-lib/aws-organizations';
import { Construct, IConstruct } from 'constructs';
import {
  GuardrailSettings, POLICY_MAX_CHARACTERS, resourceControlPolicy, serviceControlPolicy, tagValuesOf,
} from './guardrail-policies';
import { DataClassification } from '../key/classification';
import { validateOrganizationId } from '../key/validation';

/**
 * The networks an organization's keys may be called from (all but the reads of a key's
 * settings), besides calls that AWS services make.
 */
export interface TrustedNetworks {
  /**
   * VPCs (`vpc-...`) whose calls through a KMS interface endpoint are trusted (`aws:SourceVpc`).
   *
   * @default - none
   */
  readonly vpcIds?: string[];

  /**
   * KMS interface endpoints (`vpce-...`) whose calls are trusted (`aws:SourceVpce`).
   *
   * @default - none
   */
  readonly vpcEndpointIds?: string[];

  /**
   * Public IP ranges (CIDR) whose calls over the internet are trusted (`aws:SourceIp`),
   * such as the corporate network's egress.
   *
   * @default - none
   */
  readonly sourceIpRanges?: string[];
}

/**
 * Properties of KeyGuardrails.
 */
export interface KeyGuardrailsProps {
  /** The organization (`o-...`) whose principals may use its keys. */
  readonly organizationId: string;

  /**
   * The roles that deploy and change keys and the audit trail: the CloudFormation
   * execution roles of the pipelines (CDK's `cdk-<qualifier>-cfn-exec-role-<account>-<region>`),
   * and the roles of any custom resource that updates keys (a CustomKeyStore's key handler).
   * IAM role ARNs; `*` may stand for the account and for part of the name
   * (`arn:aws:iam::*:role/cdk-hnb659fds-cfn-exec-role-*`). Exempt from the SCP's denies
   * and from the RCP's network perimeter.
   */
  readonly pipelineRoles: string[];

  /**
   * The roles that may pass the pipeline and break-glass roles to CloudFormation
   * (`iam:PassRole`): CDK's `cdk-<qualifier>-deploy-role-<account>-<region>`, or your CI's
   * own role. Whoever may pass a pipeline role acts with its exemption, so the SCP then
   * denies passing them to everyone else.
   *
   * @default - no such deny: anyone allowed `iam:PassRole` on a pipeline role acts with its exemption (a warning says so)
   */
  readonly deployRoles?: string[];

  /**
   * The roles of KeyGrant handlers (`<stack>-KmsConstructsCustomReso*`), IAM role ARNs: exempt from the SCP's
   * deny of grants not for AWS resources and the RCP's network perimeter only, and protected like the exempt roles.
   *
   * @default - none: grants for principals only by the pipeline and break-glass roles
   */
  readonly grantCreatorRoles?: string[];

  /**
   * The break-glass roles, exempt like the pipeline roles, for the day a key must be
   * disabled or its policy repaired by hand. IAM role ARNs, as for `pipelineRoles`.
   *
   * @default - none
   */
  readonly breakGlassRoles?: string[];

  /**
   * The roots (`r-...`), OUs (`ou-...`) and accounts the policies are attached to.
   * Test on one OU first: these policies can lock an organization out (README, "Perimeter").
   *
   * @default - the policies are created and attached to nothing
   */
  readonly targetIds?: string[];

  /**
   * Whether to create the SCP.
   *
   * @default true
   */
  readonly enableServiceControlPolicy?: boolean;

  /**
   * Whether to create the RCP.
   *
   * @default true
   */
  readonly enableResourceControlPolicy?: boolean;

  /**
   * The classifications whose keys the SCP protects from policy, lifecycle, alias and tag
   * changes, and from grants that are not for AWS resources.
   *
   * @default - all four
   */
  readonly protectedClassifications?: DataClassification[];

  /**
   * The names of the CloudTrail trails the SCP keeps recording. `*` may stand for part of
   * a name.
   *
   * @default ['*-key-audit'] the names KeyAuditTrail gives its trails
   */
  readonly auditTrailNames?: string[];

  /**
   * The log groups the SCP keeps from deletion, shorter retention and filter changes.
   * `*` may stand for part of a name.
   *
   * @default - each audit trail's `/aws/cloudtrail/<trail name>` and every KeyAuditTrail's `/aws/events/kms-key-audit/*`
   */
  readonly auditLogGroupNames?: string[];

  /**
   * Accounts outside the organization whose principals, and AWS services acting for
   * whose resources, the RCP lets through to the organization's keys (a partner's).
   * Each key's own policy still decides what they may do.
   *
   * @default - none
   */
  readonly trustedAccounts?: string[];

  /**
   * When given, the RCP also denies calls to the organization's keys from outside these
   * networks, except calls by AWS services, calls that an AWS service makes for a
   * principal, and calls by the pipeline and break-glass roles.
   *
   * @default - no network perimeter in the RCP
   */
  readonly trustedNetworks?: TrustedNetworks;

  /**
   * The prefix of the policies' names (`<prefix>-scp`, `<prefix>-rcp`), unique in the organization.
   *
   * @default 'kms-key-guardrails'
   */
  readonly policyNamePrefix?: string;

  /**
   * Whether to create the `AWS::Organizations::Policy` resources. Without them the
   * construct only writes the documents, for `toJson()`, when the organization's
   * policies are managed elsewhere.
   *
   * @default true
   */
  readonly createPolicies?: boolean;
}

/**
 * The documents of KeyGuardrails as JSON text, exactly as they are deployed.
 */
export interface KeyGuardrailsDocuments {
  /** The SCP, or undefined when it is turned off. */
  readonly serviceControlPolicy?: string;
  /** The RCP, or undefined when it is turned off. */
  readonly resourceControlPolicy?: string;
}

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov|\*):iam::(\d{12}|\*):role\/[\w+=,.@\-/*]{1,512}$/;
const TARGET_ID = /^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|\d{12})$/;
const ACCOUNT_ID = /^\d{12}$/;
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
const VPC_ENDPOINT_ID = /^vpce-[0-9a-f]{8,17}$/;
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;
const NAME_PART = /^[\w+=,.@\-/*]{1,512}$/;
const POLICY_NAME = /^[\x20-\x7e]{1,124}$/;
/** AWS Organizations' limit of policies of one type on a root, OU or account. */
const POLICIES_PER_TARGET = 5;

/**
 * Organization guardrails for KMS keys, for the management account or a delegated
 * administrator of AWS Organizations: a service control policy (SCP) and a resource
 * control policy (RCP), as `AWS::Organizations::Policy` resources attached to roots, OUs
 * or accounts.
 *
 * The SCP, for every principal of the member accounts but the pipeline and break-glass roles:
 * - denies rewriting the policy of a classified key, scheduling its deletion, disabling it,
 *   changing its rotation or material, replicating it, moving its primary Region, and
 *   changing its aliases or tags (`aws:ResourceTag/data-classification`);
 * - denies grants on a classified key that are not for an AWS resource;
 * - denies creating a key without a valid `data-classification` tag, or setting another
 *   value, to everyone;
 * - denies making or changing a role to borrow the exemptions, and, with `deployRoles`,
 *   passing the exempt roles;
 * - denies stopping, deleting or narrowing the audit trail, deleting, shortening or
 *   blinding its log groups, and rewriting the library's handler functions;
 * - denies disconnecting or deleting custom key stores and CloudHSM clusters, HSMs and
 *   backups, and leaving the organization.
 *
 * The RCP, on every customer managed key of the member accounts:
 * - denies principals outside the organization (`aws:PrincipalOrgID`) and the trusted accounts;
 * - denies AWS services acting for another organization's resources (`aws:SourceOrgID`);
 * - denies changes of a classified key by principals of another account;
 * - with `trustedNetworks`, denies direct calls from elsewhere.
 *
 * Neither governs the management account. Both are checked against AWS Organizations'
 * limits at synth: 5,120 characters per policy, five policies of a type per target.
 *
 * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
 * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
 * @see https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
 */
export class KeyGuardrails extends Construct {
  /** The SCP, when created. */
  public readonly serviceControlPolicy?: organizations.CfnPolicy;
  /** The RCP, when created. */
  public readonly resourceControlPolicy?: organizations.CfnPolicy;
  /** @internal */
  public readonly _targetIds: string[];
  /** @internal */
  public readonly _names: string[];
  private readonly documents: KeyGuardrailsDocuments;

  constructor(scope: Construct, id: string, props: KeyGuardrailsProps) {
    super(scope, id);
    const settings = resolveSettings(props);
    const prefix = props.policyNamePrefix ?? 'kms-key-guardrails';
    checkLiteral('policyNamePrefix', prefix);
    if (!POLICY_NAME.test(prefix)) {
      throw new Error(`policyNamePrefix must be 1 to 124 printable ASCII characters, got "${prefix}"`);
    }
    this._targetIds = props.targetIds ?? [];
    if (props.deployRoles === undefined && (props.enableServiceControlPolicy ?? true)) {
      Annotations.of(this).addWarningV2('cdk-kms-constructs:guardrailsWithoutDeployRoles',
        'deployRoles is not set: anyone allowed iam:PassRole on a pipeline role can deploy a template that acts with its exemption; '
        + 'name the roles that deploy (CDK\'s cdk-<qualifier>-deploy-role-*, or your CI\'s role) in deployRoles');
    }

    const stack = Stack.of(this);
    const render = (doc: ReturnType<typeof serviceControlPolicy>) => stack.resolve(doc.toJSON());
    const scp = props.enableServiceControlPolicy ?? true ? render(serviceControlPolicy(settings)) : undefined;
    const rcp = props.enableResourceControlPolicy ?? true ? render(resourceControlPolicy(settings)) : undefined;
    if (!scp && !rcp) {
      throw new Error('enableServiceControlPolicy and enableResourceControlPolicy are both false: KeyGuardrails would have nothing to write');
    }
    checkSize('service control policy', scp);
    checkSize('resource control policy', rcp);
    this.documents = {
      serviceControlPolicy: scp && JSON.stringify(scp),
      resourceControlPolicy: rcp && JSON.stringify(rcp),
    };

    const create = props.createPolicies ?? true;
    if (!create && props.targetIds !== undefined) {
      throw new Error(`targetIds cannot be attached to when createPolicies is false, got [${props.targetIds.join(', ')}]`);
    }
    const policy = (suffix: string, type: string, content: unknown, what: string) => new organizations.CfnPolicy(this, suffix, {
      name: `${prefix}-${suffix.toLowerCase()}`,
      type,
      content,
      description: `KMS key guardrails (${what}) written by cdk-kms-constructs KeyGuardrails at ${this.node.path}`.slice(0, 512),
      targetIds: props.targetIds,
    });
    this._names = [];
    if (create && scp) {
      this.serviceControlPolicy = policy('Scp', 'SERVICE_CONTROL_POLICY', scp, 'service control policy');
      this._names.push(`${prefix}-scp`);
    }
    if (create && rcp) {
      this.resourceControlPolicy = policy('Rcp', 'RESOURCE_CONTROL_POLICY', rcp, 'resource control policy');
      this._names.push(`${prefix}-rcp`);
    }
    this.node.addValidation({ validate: () => checkAcrossApp(this) });
  }

  /**
   * The SCP and the RCP as JSON text, for organizations that manage their policies
   * elsewhere (`createPolicies: false`): paste each into a policy of its type.
   */
  public toJson(): KeyGuardrailsDocuments {
    return this.documents;
  }
}

/** Checks that need the whole app: names unique, and at most five policies of a type per target. */
function checkAcrossApp(self: KeyGuardrails): string[] {
  const all = self.node.root.node.findAll().filter((c: IConstruct): c is KeyGuardrails => c instanceof KeyGuardrails);
  const errors: string[] = [];
  for (const other of all) {
    if (other === self) continue;
    const shared = self._names.find(name => other._names.includes(name));
    if (shared) errors.push(`policy name "${shared}" is also used by ${other.node.path}: names are unique in an organization, give one a policyNamePrefix`);
  }
  for (const [type, pick] of [
    ['SCPs', (g: KeyGuardrails) => g.serviceControlPolicy],
    ['RCPs', (g: KeyGuardrails) => g.resourceControlPolicy],
  ] as const) {
    if (!pick(self)) continue;
    for (const target of self._targetIds) {
      const count = all.filter(g => pick(g) && g._targetIds.includes(target)).length;
      // FullAWSAccess (SCPs) and RCPFullAWSAccess (RCPs) hold one of the five places.
      if (count > POLICIES_PER_TARGET - 1) {
        errors.push(`targetIds: ${target} would have ${count} ${type} of this app besides the AWS managed full-access policy, `
          + `over AWS Organizations' limit of ${POLICIES_PER_TARGET} per target`);
      }
    }
  }
  return errors;
}

function resolveSettings(props: KeyGuardrailsProps): GuardrailSettings {
  checkLiteral('organizationId', props.organizationId);
  validateOrganizationId(props.organizationId);
  const roleList = (name: keyof KeyGuardrailsProps, required = false) => {
    const list = checkList(name, props[name] as string[] | undefined, { required, pattern: ROLE_ARN, shape: 'an IAM role ARN (arn:aws:iam::<account or *>:role/<name>)' });
    const everyRole = list.find(arn => /^[*/]+$/.test(arn.split(':role/')[1]));
    if (everyRole) throw new Error(`${name} entries must name roles, not every role: "${everyRole}" would exempt the whole organization`);
    return list;
  };
  const pipelineRoles = roleList('pipelineRoles', true);
  const deployRoles = props.deployRoles && roleList('deployRoles');
  const grantCreatorRoles = roleList('grantCreatorRoles');
  const breakGlassRoles = roleList('breakGlassRoles');
  checkList('targetIds', props.targetIds, { pattern: TARGET_ID, shape: 'a root (r-...), OU (ou-...-...) or 12-digit account ID' });
  const trustedAccounts = checkList('trustedAccounts', props.trustedAccounts, { pattern: ACCOUNT_ID, shape: 'a 12-digit account ID' });
  const trailNames = checkList('auditTrailNames', props.auditTrailNames, { pattern: NAME_PART, shape: 'a trail name' }) ;
  const logGroupNames = checkList('auditLogGroupNames', props.auditLogGroupNames, { pattern: NAME_PART, shape: 'a log group name' });
  const classifications = props.protectedClassifications ?? Object.values(DataClassification);
  if (classifications.length === 0) {
    throw new Error('protectedClassifications must name at least one classification, or be left out for all four, got []');
  }

  const trails = props.auditTrailNames ? trailNames : ['*-key-audit'];
  const logGroups = props.auditLogGroupNames ? logGroupNames : [...trails.map(t => `/aws/cloudtrail/${t}`), '/aws/events/kms-key-audit/*'];
  return {
    organizationId: props.organizationId,
    exemptRoles: [...new Set([...pipelineRoles, ...breakGlassRoles])],
    deployRoles,
    grantCreatorRoles,
    protectedTagValues: tagValuesOf([...new Set(classifications)]),
    trailArns: trails.map(name => `arn:*:cloudtrail:*:*:trail/${name}`),
    // A log group's ARN names it alone (DeleteLogGroup) or with ":*" (its streams and filters).
    logGroupArns: logGroups.flatMap(name => [`arn:*:logs:*:*:log-group:${name}`, `arn:*:logs:*:*:log-group:${name}:*`]),
    trustedAccounts,
    network: props.trustedNetworks && resolveNetworks(props.trustedNetworks),
  };
}

function resolveNetworks(networks: TrustedNetworks): GuardrailSettings['network'] {
  const vpcIds = checkList('trustedNetworks.vpcIds', networks.vpcIds, { pattern: VPC_ID, shape: 'a VPC ID (vpc-...)' });
  const vpcEndpointIds = checkList('trustedNetworks.vpcEndpointIds', networks.vpcEndpointIds, { pattern: VPC_ENDPOINT_ID, shape: 'a VPC endpoint ID (vpce-...)' });
  const sourceIps = checkList('trustedNetworks.sourceIpRanges', networks.sourceIpRanges, { pattern: CIDR, shape: 'a CIDR range such as 203.0.113.0/24' });
  if (vpcIds.length + vpcEndpointIds.length + sourceIps.length === 0) {
    throw new Error('trustedNetworks must name at least one VPC, VPC endpoint or IP range (none would deny every call from everywhere), got {}');
  }
  return { vpcIds, vpcEndpointIds, sourceIps };
}

interface ListRules {
  readonly required?: boolean;
  readonly pattern: RegExp;
  readonly shape: string;
}

/** A list prop: not empty when given, no tokens, no duplicates, each entry of its shape. */
function checkList(name: string, list: string[] | undefined, rules: ListRules): string[] {
  if (list === undefined) {
    if (rules.required) throw new Error(`${name} must name at least one role, got undefined`);
    return [];
  }
  if (list.length === 0) throw new Error(`${name} must name at least one entry, or be left out, got []`);
  list.forEach((value, i) => {
    checkLiteral(`${name}[${i}]`, value);
    if (!rules.pattern.test(value)) throw new Error(`${name}[${i}] must be ${rules.shape}, got "${value}"`);
  });
  const duplicate = list.find((value, i) => list.indexOf(value) !== i);
  if (duplicate) throw new Error(`${name} lists "${duplicate}" twice`);
  return list;
}

/** The documents are checked against their size limit at synth, so every value must be known then. */
function checkLiteral(name: string, value: string): void {
  if (Token.isUnresolved(value)) {
    throw new Error(`${name} must be a literal string, known at synth so that the policies' size can be checked, got the token ${value}`);
  }
}

function checkSize(what: string, document: unknown): void {
  if (document === undefined) return;
  const size = JSON.stringify(document).length;
  if (size > POLICY_MAX_CHARACTERS) {
    throw new Error(`the ${what} would be ${size} characters, over AWS Organizations' limit of ${POLICY_MAX_CHARACTERS}: `
      + 'name fewer or broader pipelineRoles, breakGlassRoles, trustedAccounts or trustedNetworks (a * in a role name covers many)');
  }
}
