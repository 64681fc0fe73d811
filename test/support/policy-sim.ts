/**
 * Test helper: evaluates the IAM and KMS policies of a synthesized CloudFormation
 * template with `@cloud-copilot/iam-simulate`.
 *
 * The template's intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, ...) are resolved to
 * deterministic fake physical names and ARNs for the given account/region, so a
 * test can ask "may principal P perform action A on resource R?" against the real
 * synthesized key policies, identity policies and trust policies.
 *
 * Usage:
 *   const sim = PolicySimulator.fromStack(stack);
 *   expect(await sim.can(sim.roleArn(roleId), 'kms:Decrypt', sim.keyArn(keyId))).toBe(true);
 *
 * Deliberate choices (see the README of iam-simulate for its own semantics):
 * - Request context keys that AWS always sets (aws:PrincipalArn, aws:PrincipalAccount,
 *   aws:PrincipalType, aws:PrincipalIsAWSService, aws:PrincipalServiceName,
 *   aws:SecureTransport, aws:RequestedRegion, aws:ResourceAccount, kms:CallerAccount)
 *   are filled in from the request unless the caller sets them or `autoContext: false`.
 * - Caller-supplied context keys are type-checked, and a key that iam-simulate would
 *   silently drop because it does not apply to the action makes the call throw.
 * - The account root principal gets an implicit allow-all identity policy, because the
 *   root user is not governed by IAM policies (only by resource policies and SCPs).
 */
import { createHash } from 'node:crypto';
import {
  allowedContextKeysForRequest,
  isConditionKeyArray,
  runSimulation,
  runUnsafeSimulation,
  typeForContextKey,
  type RunSimulationResults,
  type Simulation,
  type SimulationIdentityPolicy,
} from '@cloud-copilot/iam-simulate';
import { Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/** A JSON IAM policy statement (after intrinsic resolution). */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
}

/** A JSON IAM policy document (after intrinsic resolution). */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Id?: string;
  readonly Statement: PolicyStatement | PolicyStatement[];
}

/** The normalised decision of a simulation. */
export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** Request context values, as iam-simulate takes them. */
export type ContextValues = Record<string, string | string[]>;

/** Where the simulated template is deployed. */
export interface PolicySimulatorOptions {
  readonly account: string;
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** Value of `AWS::StackName`. @default 'TestStack' */
  readonly stackName?: string;
  /** Values for template parameters (override their `Default`). */
  readonly parameters?: Record<string, string>;
  /**
   * Documents of managed policies that are not defined in the template (for example AWS managed
   * policies) but are attached to its roles. An attached managed policy that is neither in the
   * template nor here makes `identityPoliciesOf` throw, rather than silently ignoring its grants.
   */
  readonly managedPolicies?: Record<string, PolicyDocument>;
}

/** Everything about a request except who, what and on which resource. */
export interface SimulationOptions {
  /** Extra identity policies of the principal (e.g. for principals outside the template). */
  readonly identityPolicies?: PolicyDocument[];
  /**
   * Add the identity policies the template attaches to the principal.
   * @default true when the principal is a role or user of this template
   */
  readonly includeTemplateIdentityPolicies?: boolean;
  /** Request context keys. */
  readonly context?: ContextValues;
  /**
   * The resource policy. `null` means "no resource policy".
   * @default the template's policy for `resourceArn` (key policy, trust policy, bucket/topic/queue policy)
   */
  readonly resourcePolicy?: PolicyDocument | null;
  /** Permissions boundary of the principal. @default the template role's boundary, if any */
  readonly permissionBoundaryPolicies?: PolicyDocument[];
  /** The policies of the VPC endpoints the request goes through. @default none: not through an endpoint */
  readonly vpcEndpointPolicies?: PolicyDocument[];
  /** Account that owns the resource. @default the account in `resourceArn`, else the template's account */
  readonly resourceAccount?: string;
  /** Fill in the context keys AWS always sets (see the module comment). @default true */
  readonly autoContext?: boolean;
  /** Do not throw when a caller-supplied context key does not apply to the action. @default false */
  readonly allowIgnoredContextKeys?: boolean;
  /**
   * The AWS Organizations organization the accounts belong to, with the SCPs and RCPs that
   * govern them. @default none: no account is in an organization
   */
  readonly organization?: SimulatedOrganization;
}

/**
 * An organization whose member accounts all sit in one OU. The simulator applies its
 * policies the way AWS does (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html,
 * https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html):
 * - SCPs govern the IAM principals of member accounts, root users included; not principals of the
 *   management account or outside the organization, not service-linked roles, not service principals.
 *   The root and the OU each keep `FullAWSAccess`, so the given SCPs only deny.
 * - RCPs govern the resources of member accounts, whoever calls, service principals included; not
 *   calls by service-linked roles, and never `kms:RetireGrant` (https://docs.aws.amazon.com/kms/latest/developerguide/resource-control-policies.html).
 *   `RCPFullAWSAccess` stays attached (iam-simulate adds it).
 * - `aws:PrincipalOrgID` is set for principals of the organization's accounts and
 *   `aws:ResourceOrgID` for their resources, unless the request sets them.
 */
export interface SimulatedOrganization {
  /** o-... */
  readonly id: string;
  readonly managementAccount: string;
  readonly memberAccounts: string[];
  /** SCPs attached to the members' OU, besides `FullAWSAccess`. */
  readonly serviceControlPolicies?: PolicyDocument[];
  /** RCPs attached to the members' OU. */
  readonly resourceControlPolicies?: PolicyDocument[];
}

/** The AWS managed SCP attached to every root, OU and account by default. */
const FULL_AWS_ACCESS: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/** The AWS managed RCP attached to every root, OU and account. */
const RCP_FULL_AWS_ACCESS: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] };

/** Service-linked roles, which neither SCPs nor RCPs restrict. */
const SERVICE_LINKED_ROLE = /^arn:[^:]+:iam::\d{12}:role\/aws-service-role\//;

/** A single authorization question. */
export interface SimulationRequest extends SimulationOptions {
  /** A role/user/root/assumed-role ARN, a 12-digit account id (= its root) or a service principal. */
  readonly principalArn: string;
  readonly action: string;
  readonly resourceArn: string;
}

/** What `explain` returns: the exact simulation input, iam-simulate's raw result, and a summary. */
export interface Explanation {
  /** undefined when iam-simulate rejected the input (see `result.errors`). */
  readonly decision: Decision | undefined;
  readonly simulation: Simulation;
  readonly result: RunSimulationResults;
  /** Caller-supplied context keys iam-simulate dropped because they do not apply to the action. */
  readonly ignoredContextKeys: string[];
  /** Human-readable summary of the decisive statements, for failing-test messages. */
  readonly summary: string;
}

/** A CloudFormation resource as it appears in a template. */
interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** A policy document with the name it is given in the simulation. */
interface NamedPolicy {
  readonly name: string;
  readonly policy: PolicyDocument;
}

/** The CloudFormation types of KMS keys: standard, replica, and a key in a CloudHSM key store. */
const KEY_TYPES = ['AWS::KMS::Key', 'AWS::KMS::ReplicaKey', 'Custom::KmsHsmKey'];

/** Marker for `Ref: AWS::NoValue`: the enclosing property or list element is removed. */
const NO_VALUE = Symbol('AWS::NoValue');

/** Actions evaluated against a role's trust policy rather than a regular resource policy. */
const TRUST_POLICY_ACTIONS = ['sts:assumerole', 'sts:assumerolewithsaml', 'sts:assumerolewithwebidentity', 'sts:tagsession', 'sts:setsourceidentity'];

/** kms:EncryptionContext:<key>, which iam-simulate does not match against its variable form. */
const ENCRYPTION_CONTEXT_KEY = /^kms:EncryptionContext:./i;

/** Parsed request principal. */
interface PrincipalInfo {
  readonly kind: 'root' | 'role' | 'user' | 'assumed-role' | 'service';
  /** The principal as sent to iam-simulate. */
  readonly value: string;
  readonly account?: string;
  /** For roles and role sessions: the role ARN (aws:PrincipalArn). */
  readonly principalArn?: string;
}

export class PolicySimulator {
  /** Build a simulator from a stack whose env has a concrete account and region. */
  public static fromStack(stack: Stack, options: Partial<PolicySimulatorOptions> = {}): PolicySimulator {
    const account = options.account ?? (Token.isUnresolved(stack.account) ? undefined : stack.account);
    const region = options.region ?? (Token.isUnresolved(stack.region) ? undefined : stack.region);
    if (!account || !region) {
      throw new Error('PolicySimulator.fromStack needs a stack with an explicit env (or account/region options)');
    }
    return new PolicySimulator(Template.fromStack(stack).toJSON(), { stackName: stack.stackName, ...options, account, region });
  }

  /** A policy document allowing `actions` on `resources`. */
  public static allowPolicy(actions: string | string[], resources: string | string[] = '*'): PolicyDocument {
    return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resources }] };
  }

  private readonly resources: Record<string, CfnResource>;
  private readonly parameters: Record<string, { Type?: string; Default?: unknown }>;
  private readonly conditions: Record<string, unknown>;
  private readonly mappings: Record<string, Record<string, Record<string, unknown>>>;
  private readonly account: string;
  private readonly region: string;
  private readonly partition: string;
  private readonly stackName: string;
  /** Logical ids being resolved, to report reference cycles instead of overflowing the stack. */
  private readonly resolving = new Set<string>();
  private readonly conditionCache = new Map<string, boolean>();

  constructor(template: Record<string, unknown>, private readonly options: PolicySimulatorOptions) {
    this.resources = (template.Resources ?? {}) as Record<string, CfnResource>;
    this.parameters = (template.Parameters ?? {}) as Record<string, { Type?: string; Default?: unknown }>;
    this.conditions = (template.Conditions ?? {}) as Record<string, unknown>;
    this.mappings = (template.Mappings ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
    this.account = options.account;
    this.region = options.region;
    this.partition = options.partition ?? 'aws';
    this.stackName = options.stackName ?? 'TestStack';
  }

  // ---------------------------------------------------------------------------
  // Template queries
  // ---------------------------------------------------------------------------

  /** Logical ids of all resources of a CloudFormation type, in template order. */
  public logicalIdsOfType(type: string): string[] {
    return Object.keys(this.resources).filter((id) => this.resources[id].Type === type);
  }

  /** ARN of an AWS::KMS::Key, an AWS::KMS::ReplicaKey or a key in a CloudHSM key store (Custom::KmsHsmKey). */
  public keyArn(keyLogicalId: string): string {
    this.resource(keyLogicalId, ...KEY_TYPES);
    return this.getAtt(keyLogicalId, 'Arn');
  }

  /** ARN of an AWS::IAM::Role. */
  public roleArn(roleLogicalId: string): string {
    this.resource(roleLogicalId, 'AWS::IAM::Role');
    return this.getAtt(roleLogicalId, 'Arn');
  }

  /** The resolved key policy of a key (the AWS default key policy when the template sets none). */
  public keyPolicy(keyLogicalId: string): PolicyDocument {
    const key = this.resource(keyLogicalId, ...KEY_TYPES);
    if (key.Properties?.KeyPolicy === undefined) {
      return {
        Version: '2012-10-17',
        Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: this.rootArn() }, Action: 'kms:*', Resource: '*' }],
      };
    }
    return this.resolveDocument(key.Properties.KeyPolicy, `${keyLogicalId}.KeyPolicy`);
  }

  /** The resolved trust policy (AssumeRolePolicyDocument) of a role. */
  public trustPolicy(roleLogicalId: string): PolicyDocument {
    const role = this.resource(roleLogicalId, 'AWS::IAM::Role');
    return this.resolveDocument(role.Properties?.AssumeRolePolicyDocument, `${roleLogicalId}.AssumeRolePolicyDocument`);
  }

  /** All resolved identity policies the template attaches to a role (or user). */
  public identityPoliciesOf(logicalId: string): PolicyDocument[] {
    return this.namedIdentityPoliciesOf(logicalId).map((p) => p.policy);
  }

  /** Resolve any template fragment (intrinsics included) to plain JSON. */
  public resolve(value: unknown): unknown {
    const resolved = this.resolveValue(value);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  // ---------------------------------------------------------------------------
  // Simulation
  // ---------------------------------------------------------------------------

  /**
   * Simulate a request and return the decision. Throws when iam-simulate rejects the input
   * (unknown action, invalid policy, resource type mismatch...), when a context value has the
   * wrong type, or when a caller-supplied context key does not apply to the action.
   */
  public async simulate(request: SimulationRequest): Promise<Decision> {
    const explanation = await this.explain(request);
    if (explanation.result.resultType === 'error') {
      throw new Error(`iam-simulate rejected ${describeRequest(request)}: ${JSON.stringify(explanation.result.errors, undefined, 2)}`);
    }
    if (explanation.ignoredContextKeys.length > 0 && !request.allowIgnoredContextKeys) {
      throw new Error(`context keys [${explanation.ignoredContextKeys.join(', ')}] do not apply to ${request.action} on ${request.resourceArn} `
        + 'and would be ignored by iam-simulate; remove them or pass allowIgnoredContextKeys: true');
    }
    return explanation.decision!;
  }

  /** Like `simulate`, but returns the full simulation input and raw result instead of throwing on rejected input. */
  public async explain(request: SimulationRequest): Promise<Explanation> {
    const simulation = await this.buildSimulation(request);
    const result = await runSimulation(simulation, { simulationMode: 'Strict' });
    const analyses = result.resultType === 'single' ? [result.result] : result.resultType === 'wildcard' ? result.results : [];
    const dropped = new Set(analyses.flatMap((a) => a.ignoredContextKeys ?? []));
    let decision = result.resultType === 'error' ? undefined : normaliseDecision(result.overallResult);
    let note = '';

    // iam-simulate only recognises variable context keys of the form prefix/${Var}, so it drops
    // kms:EncryptionContext:<key> even for actions that support it. Re-evaluate with those keys
    // kept, through the unvalidated entry point (the validated run above already checked the input).
    const encryptionContextKeys = [...dropped].filter((k) => ENCRYPTION_CONTEXT_KEY.test(k));
    if (result.resultType === 'single' && encryptionContextKeys.length > 0 && await takesEncryptionContext(request)) {
      encryptionContextKeys.forEach((k) => dropped.delete(k));
      const contextVariables: ContextValues = {};
      for (const [key, value] of Object.entries(simulation.request.contextVariables)) {
        if (!dropped.has(key)) contextVariables[key] = await normaliseContextValue(key, value);
      }
      // runUnsafeSimulation loads the resource policy without metadata and then reads its name;
      // handing it an already-validated policy (iam-policy's ValidatedPolicy shape) carries one.
      const resourcePolicy = simulation.resourcePolicy
        ? { __validated: true, policyDocument: simulation.resourcePolicy, metadata: { name: 'resourcePolicy' }, errors: [] }
        : undefined;
      // It also neither adds RCPFullAWSAccess to each RCP level, as the validated entry point
      // does, nor evaluates VPC endpoint policies.
      if (simulation.vpcEndpointPolicies?.length) {
        throw new Error(`${describeRequest(request)}: kms:EncryptionContext keys and vpcEndpointPolicies cannot be simulated together`);
      }
      const resourceControlPolicies = simulation.resourceControlPolicies.map(level => ({
        ...level, policies: [{ name: 'RCPFullAWSAccess', policy: RCP_FULL_AWS_ACCESS }, ...level.policies],
      }));
      decision = normaliseDecision(runUnsafeSimulation(
        { ...simulation, resourcePolicy, resourceControlPolicies, request: { ...simulation.request, contextVariables } },
        { simulationMode: 'Strict' },
      ));
      note = `decision re-evaluated with runUnsafeSimulation to honour ${encryptionContextKeys.join(', ')}: ${decision}`;
    }

    const userKeys = new Set(Object.keys(request.context ?? {}).map((k) => k.toLowerCase()));
    return {
      decision,
      simulation,
      result,
      ignoredContextKeys: [...dropped].filter((k) => userKeys.has(k.toLowerCase())),
      summary: summarise(request, result) + (note ? `\n${note}` : ''),
    };
  }

  /** True when the request is allowed. */
  public async can(principalArn: string, action: string, resourceArn: string, options: SimulationOptions = {}): Promise<boolean> {
    return (await this.simulate({ ...options, principalArn, action, resourceArn })) === 'Allowed';
  }

  /**
   * True when `principalArn` may call sts:AssumeRole on the role: its trust policy is the
   * resource policy and the principal has an identity policy allowing sts:AssumeRole on `*`.
   */
  public async canAssume(
    roleLogicalId: string,
    principalArn: string,
    context: ContextValues = {},
    options: SimulationOptions = {},
  ): Promise<boolean> {
    return this.can(principalArn, 'sts:AssumeRole', this.roleArn(roleLogicalId), {
      ...options,
      context: { ...context, ...options.context },
      resourcePolicy: this.trustPolicy(roleLogicalId),
      identityPolicies: [PolicySimulator.allowPolicy('sts:AssumeRole'), ...(options.identityPolicies ?? [])],
    });
  }

  /** The exact input handed to iam-simulate for a request. */
  public async buildSimulation(request: SimulationRequest): Promise<Simulation> {
    const principal = this.parsePrincipal(request.principalArn);
    const templateIdentity = principal.principalArn ? this.templateIdentityFor(principal.principalArn) : undefined;

    // Identity policies: caller-supplied, the template's (for its own roles/users), and root's implicit grant.
    const identityPolicies: SimulationIdentityPolicy[] = (request.identityPolicies ?? []).map((policy, i) => ({ name: `request.identityPolicies[${i}]`, policy }));
    if (templateIdentity && (request.includeTemplateIdentityPolicies ?? true)) {
      identityPolicies.push(...this.namedIdentityPoliciesOf(templateIdentity));
    } else if (request.includeTemplateIdentityPolicies && !templateIdentity) {
      throw new Error(`includeTemplateIdentityPolicies: ${request.principalArn} is not a role or user of this template`);
    }
    if (principal.kind === 'root') {
      identityPolicies.push({ name: 'implicit-root-user-permissions', policy: PolicySimulator.allowPolicy('*') });
    }

    const boundaries = request.permissionBoundaryPolicies
      ?? (templateIdentity ? this.permissionBoundaryOf(templateIdentity) : undefined);

    const resourcePolicy = request.resourcePolicy === undefined
      ? this.resourcePolicyFor(request.resourceArn, request.action)
      : request.resourcePolicy ?? undefined;

    const resourceAccount = request.resourceAccount ?? (arnAccount(request.resourceArn) || this.account);
    await validateContext(request.context ?? {});
    // Caller-supplied keys win over automatic ones (context keys are case-insensitive).
    const userKeys = new Set(Object.keys(request.context ?? {}).map((k) => k.toLowerCase()));
    const automatic = request.autoContext ?? true ? this.automaticContext(principal, request, resourceAccount) : {};
    const context: ContextValues = { ...request.context };
    for (const [key, value] of Object.entries(automatic)) {
      if (!userKeys.has(key.toLowerCase())) context[key] = value;
    }

    const org = organizationPolicies(request, principal, resourceAccount);
    if (request.autoContext ?? true) {
      for (const [key, value] of Object.entries({ ...this.resourceTagContext(request.resourceArn), ...org.context })) {
        if (!userKeys.has(key.toLowerCase())) context[key] = value;
      }
    }

    return {
      request: {
        principal: principal.value,
        action: request.action,
        resource: { resource: request.resourceArn, accountId: resourceAccount },
        contextVariables: context,
      },
      identityPolicies,
      serviceControlPolicies: org.serviceControlPolicies,
      resourceControlPolicies: org.resourceControlPolicies,
      ...(resourcePolicy ? { resourcePolicy } : {}),
      ...(boundaries ? { permissionBoundaryPolicies: boundaries.map((policy, i) => ({ name: `permissionBoundary[${i}]`, policy })) } : {}),
      ...(request.vpcEndpointPolicies ? { vpcEndpointPolicies: request.vpcEndpointPolicies.map((policy, i) => ({ name: `vpcEndpoint[${i}]`, policy })) } : {}),
    };
  }

  /** `aws:ResourceTag/<key>` for each tag of the template's key at `resourceArn`, as KMS sets them. */
  private resourceTagContext(resourceArn: string): ContextValues {
    const keyId = KEY_TYPES.flatMap((type) => this.logicalIdsOfType(type)).find((id) => this.getAtt(id, 'Arn') === resourceArn);
    if (!keyId) return {};
    const tags = (this.resolve(this.resources[keyId].Properties?.Tags) ?? []) as Array<{ Key: string; Value: string }>;
    return Object.fromEntries(tags.map((tag) => [`aws:ResourceTag/${tag.Key}`, tag.Value]));
  }

  // ---------------------------------------------------------------------------
  // Policies attached in the template
  // ---------------------------------------------------------------------------

  private namedIdentityPoliciesOf(logicalId: string): NamedPolicy[] {
    const identity = this.resource(logicalId, 'AWS::IAM::Role', 'AWS::IAM::User');
    const isRole = identity.Type === 'AWS::IAM::Role';
    const name = this.physicalName(logicalId);
    const listProp = isRole ? 'Roles' : 'Users';
    const result: NamedPolicy[] = [];

    // Inline policies on the role/user itself.
    const inline = (this.resolve(identity.Properties?.Policies) ?? []) as Array<{ PolicyName: string; PolicyDocument: PolicyDocument }>;
    for (const p of inline) {
      result.push({ name: `${logicalId}.Policies.${p.PolicyName}`, policy: p.PolicyDocument });
    }

    // AWS::IAM::Policy and AWS::IAM::ManagedPolicy resources that list this role/user.
    const attachedManaged = new Set<string>();
    for (const [id, res] of Object.entries(this.resources)) {
      if (res.Type !== 'AWS::IAM::Policy' && res.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const members = (this.resolve(res.Properties?.[listProp]) ?? []) as string[];
      if (!members.includes(name)) continue;
      result.push({ name: id, policy: this.resolveDocument(res.Properties?.PolicyDocument, `${id}.PolicyDocument`) });
      if (res.Type === 'AWS::IAM::ManagedPolicy') attachedManaged.add(id);
    }

    // ManagedPolicyArns on the role/user: template managed policies or caller-supplied documents.
    const arns = (this.resolve(identity.Properties?.ManagedPolicyArns) ?? []) as string[];
    for (const arn of arns) {
      const id = this.logicalIdsOfType('AWS::IAM::ManagedPolicy').find((mp) => this.ref(mp) === arn);
      if (id) {
        if (!attachedManaged.has(id)) {
          result.push({ name: id, policy: this.resolveDocument(this.resources[id].Properties?.PolicyDocument, `${id}.PolicyDocument`) });
        }
      } else if (this.options.managedPolicies?.[arn]) {
        result.push({ name: arn, policy: this.options.managedPolicies[arn] });
      } else {
        throw new Error(`${logicalId} has managed policy ${arn} that is not in the template; pass its document in the managedPolicies option`);
      }
    }
    return result;
  }

  private permissionBoundaryOf(logicalId: string): PolicyDocument[] | undefined {
    const arn = this.resolve(this.resources[logicalId].Properties?.PermissionsBoundary) as string | undefined;
    if (arn === undefined) return undefined;
    const id = this.logicalIdsOfType('AWS::IAM::ManagedPolicy').find((mp) => this.ref(mp) === arn);
    if (id) return [this.resolveDocument(this.resources[id].Properties?.PolicyDocument, `${id}.PolicyDocument`)];
    const external = this.options.managedPolicies?.[arn];
    if (external) return [external];
    throw new Error(`${logicalId} has permissions boundary ${arn} that is not in the template; pass permissionBoundaryPolicies or managedPolicies`);
  }

  /** The template's resource policy governing `resourceArn`, if any. */
  private resourcePolicyFor(resourceArn: string, action: string): PolicyDocument | undefined {
    for (const id of KEY_TYPES.flatMap(type => this.logicalIdsOfType(type))) {
      if (this.keyArn(id) === resourceArn) return this.keyPolicy(id);
    }
    if (TRUST_POLICY_ACTIONS.includes(action.toLowerCase())) {
      const role = this.logicalIdsOfType('AWS::IAM::Role').find((id) => this.roleArn(id) === resourceArn);
      if (role) return this.trustPolicy(role);
    }
    for (const id of this.logicalIdsOfType('AWS::S3::BucketPolicy')) {
      const props = this.resources[id].Properties ?? {};
      const bucketArn = `arn:${this.partition}:s3:::${this.resolve(props.Bucket) as string}`;
      if (resourceArn === bucketArn || resourceArn.startsWith(`${bucketArn}/`)) return this.resolveDocument(props.PolicyDocument, `${id}.PolicyDocument`);
    }
    for (const id of this.logicalIdsOfType('AWS::SNS::TopicPolicy')) {
      const props = this.resources[id].Properties ?? {};
      if ((this.resolve(props.Topics) as string[]).includes(resourceArn)) return this.resolveDocument(props.PolicyDocument, `${id}.PolicyDocument`);
    }
    for (const id of this.logicalIdsOfType('AWS::SQS::QueuePolicy')) {
      const props = this.resources[id].Properties ?? {};
      const urls = this.resolve(props.Queues) as string[];
      const queue = this.logicalIdsOfType('AWS::SQS::Queue').find((q) => this.getAtt(q, 'Arn') === resourceArn);
      if (queue && urls.includes(this.ref(queue) as string)) return this.resolveDocument(props.PolicyDocument, `${id}.PolicyDocument`);
    }
    return undefined;
  }

  /** The logical id of the template role/user whose ARN is `arn`, if any. */
  private templateIdentityFor(arn: string): string | undefined {
    return [...this.logicalIdsOfType('AWS::IAM::Role'), ...this.logicalIdsOfType('AWS::IAM::User')]
      .find((id) => this.getAtt(id, 'Arn') === arn);
  }

  // ---------------------------------------------------------------------------
  // Principals and context
  // ---------------------------------------------------------------------------

  private parsePrincipal(principal: string): PrincipalInfo {
    if (/^\d{12}$/.test(principal)) {
      // AWS sets aws:PrincipalArn to the root user's ARN for calls the root user makes.
      const rootArn = `arn:${this.partition}:iam::${principal}:root`;
      return { kind: 'root', value: rootArn, account: principal, principalArn: rootArn };
    }
    // iam-simulate treats any non-ARN ending in amazonaws.com as a service principal.
    if (!principal.startsWith('arn:') && /\.amazonaws\.com(\.cn)?$/.test(principal)) {
      return { kind: 'service', value: principal };
    }
    const m = /^arn:([^:]+):(iam|sts)::(\d{12}):(.+)$/.exec(principal);
    if (m) {
      const [, partition, service, account, rest] = m;
      if (service === 'iam' && rest === 'root') return { kind: 'root', value: principal, account, principalArn: principal };
      if (service === 'iam' && rest.startsWith('role/')) return { kind: 'role', value: principal, account, principalArn: principal };
      if (service === 'iam' && rest.startsWith('user/')) return { kind: 'user', value: principal, account, principalArn: principal };
      const session = /^assumed-role\/([^/]+)\/[^/]+$/.exec(rest);
      if (service === 'sts' && session) {
        // Role paths are not visible in a session ARN; aws:PrincipalArn is the role ARN.
        const roleArn = [...this.logicalIdsOfType('AWS::IAM::Role')].map((id) => this.roleArn(id))
          .find((arn) => arn.startsWith(`arn:${partition}:iam::${account}:role/`) && arn.endsWith(`/${session[1]}`))
          ?? `arn:${partition}:iam::${account}:role/${session[1]}`;
        return { kind: 'assumed-role', value: principal, account, principalArn: roleArn };
      }
    }
    throw new Error(`unsupported principal '${principal}': use an IAM role/user/root ARN, an sts assumed-role ARN, an account id or a service principal`);
  }

  /** Context keys AWS sets on every request of this kind. */
  private automaticContext(principal: PrincipalInfo, request: SimulationRequest, resourceAccount: string): ContextValues {
    const context: ContextValues = {
      'aws:SecureTransport': 'true',
      'aws:RequestedRegion': arnRegion(request.resourceArn) || this.region,
      'aws:ResourceAccount': resourceAccount,
    };
    if (principal.kind === 'service') {
      context['aws:PrincipalIsAWSService'] = 'true';
      context['aws:PrincipalServiceName'] = principal.value;
      return context;
    }
    context['aws:PrincipalIsAWSService'] = 'false';
    context['aws:PrincipalArn'] = principal.principalArn!;
    context['aws:PrincipalAccount'] = principal.account!;
    context['aws:PrincipalType'] = { 'root': 'Account', 'user': 'User', 'role': 'AssumedRole', 'assumed-role': 'AssumedRole' }[principal.kind];
    if (request.action.toLowerCase().startsWith('kms:')) {
      context['kms:CallerAccount'] = principal.account!;
    }
    return context;
  }

  // ---------------------------------------------------------------------------
  // Intrinsic resolution
  // ---------------------------------------------------------------------------

  private resource(logicalId: string, ...types: string[]): CfnResource {
    const res = this.resources[logicalId];
    if (!res) throw new Error(`no resource '${logicalId}' in the template`);
    if (types.length > 0 && !types.includes(res.Type)) {
      throw new Error(`resource '${logicalId}' is a ${res.Type}, expected ${types.join(' or ')}`);
    }
    return res;
  }

  private resolveDocument(value: unknown, what: string): PolicyDocument {
    const doc = this.resolve(value);
    if (typeof doc !== 'object' || doc === null || !('Statement' in doc)) {
      throw new Error(`${what} is not a policy document: ${JSON.stringify(doc)}`);
    }
    return doc as PolicyDocument;
  }

  private resolveValue(value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map((v) => this.resolveValue(v)).filter((v) => v !== NO_VALUE);
    }
    if (isObject(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
        return this.resolveIntrinsic(keys[0], value[keys[0]]);
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const v = this.resolveValue(value[k]);
        if (v !== NO_VALUE) out[k] = v;
      }
      return out;
    }
    return value;
  }

  private resolveIntrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        return this.ref(this.str(arg, fn));
      case 'Fn::GetAtt': {
        const [id, ...attr] = typeof arg === 'string' ? arg.split('.') : this.list(arg, fn).map((a) => this.str(this.resolveValue(a), fn));
        return this.getAtt(id, attr.join('.'));
      }
      case 'Fn::Join': {
        const [delimiter, items] = this.list(arg, fn, 2);
        return this.list(this.resolveValue(items), fn).map((item) => this.str(item, fn)).join(this.str(delimiter, fn));
      }
      case 'Fn::Select': {
        const [index, items] = this.list(arg, fn, 2);
        const list = this.list(this.resolveValue(items), fn);
        const i = Number(this.resolveValue(index));
        if (!Number.isInteger(i) || i < 0 || i >= list.length) throw new Error(`Fn::Select index ${i} out of range for ${JSON.stringify(list)}`);
        return list[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = this.list(arg, fn, 2);
        return this.str(this.resolveValue(source), fn).split(this.str(delimiter, fn));
      }
      case 'Fn::Sub':
        return this.sub(arg);
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = this.list(arg, fn, 3);
        return this.resolveValue(this.condition(this.str(condition, fn)) ? whenTrue : whenFalse);
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = this.list(arg, fn, 3).map((a) => this.str(this.resolveValue(a), fn));
        const found = this.mappings[map]?.[top]?.[second];
        if (found === undefined) throw new Error(`Fn::FindInMap: no ${map}.${top}.${second}`);
        return this.resolveValue(found);
      }
      case 'Fn::Base64':
        return Buffer.from(this.str(this.resolveValue(arg), fn)).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((az) => `${this.region}${az}`);
      case 'Fn::ToJsonString':
        return JSON.stringify(this.resolve(arg));
      case 'Fn::Length':
        return this.list(this.resolveValue(arg), fn).length;
      case 'Fn::Equals':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Fn::Not':
        return this.conditionExpression({ [fn]: arg });
      default:
        throw new Error(`PolicySimulator cannot resolve ${fn} (${JSON.stringify(arg)})`);
    }
  }

  /** Ref: pseudo parameters, parameters and resources. */
  private ref(name: string): unknown {
    switch (name) {
      case 'AWS::AccountId': return this.account;
      case 'AWS::Region': return this.region;
      case 'AWS::Partition': return this.partition;
      case 'AWS::URLSuffix': return this.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
      case 'AWS::StackName': return this.stackName;
      case 'AWS::StackId': return `arn:${this.partition}:cloudformation:${this.region}:${this.account}:stack/${this.stackName}/00000000-0000-4000-8000-000000000000`;
      case 'AWS::NotificationARNs': return [];
      case 'AWS::NoValue': return NO_VALUE;
    }
    if (this.parameters[name]) {
      const param = this.parameters[name];
      const value = this.options.parameters?.[name] ?? param.Default;
      if (value === undefined) throw new Error(`parameter ${name} has no Default; pass it in the parameters option`);
      const isList = param.Type?.startsWith('List<') || param.Type === 'CommaDelimitedList';
      return isList && typeof value === 'string' ? value.split(',') : value;
    }
    const res = this.resource(name);
    const p = this.partition;
    switch (res.Type) {
      case 'AWS::KMS::Key':
      case 'AWS::KMS::ReplicaKey':
        return fakeKeyId(name);
      case 'AWS::KMS::Alias':
        return this.physicalName(name);
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${p}:iam::${this.account}:policy${this.iamPath(name)}${this.physicalName(name)}`;
      case 'AWS::SNS::Topic':
      case 'AWS::SecretsManager::Secret':
        return this.getAtt(name, 'Arn');
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.${this.ref('AWS::URLSuffix') as string}/${this.account}/${this.physicalName(name)}`;
      default:
        // Role, User, Bucket, LogGroup, Table, Trail, Function, ... : Ref is the physical name.
        return this.physicalName(name);
    }
  }

  /** Fn::GetAtt with deterministic fake values. */
  private getAtt(id: string, attr: string): string {
    const res = this.resource(id);
    const p = this.partition;
    const arn = (service: string, resource: string, region = this.region, account = this.account) =>
      `arn:${p}:${service}:${region}:${account}:${resource}`;
    const name = () => this.physicalName(id);
    const byType: Record<string, Record<string, () => string>> = {
      'AWS::IAM::Role': { Arn: () => arn('iam', `role${this.iamPath(id)}${name()}`, ''), RoleId: () => fakeUniqueId('AROA', id) },
      'AWS::IAM::User': { Arn: () => arn('iam', `user${this.iamPath(id)}${name()}`, '') },
      'AWS::IAM::ManagedPolicy': { PolicyArn: () => this.ref(id) as string },
      'AWS::KMS::Key': { Arn: () => arn('kms', `key/${fakeKeyId(id)}`), KeyId: () => fakeKeyId(id) },
      'AWS::KMS::ReplicaKey': { Arn: () => arn('kms', `key/${fakeKeyId(id)}`), KeyId: () => fakeKeyId(id) },
      'Custom::KmsHsmKey': { Arn: () => arn('kms', `key/${fakeKeyId(id)}`), KeyId: () => fakeKeyId(id) },
      'AWS::KMS::Alias': { Arn: () => arn('kms', name()) },
      'AWS::SNS::Topic': { TopicArn: () => arn('sns', name()), Arn: () => arn('sns', name()), TopicName: name },
      'AWS::S3::Bucket': {
        Arn: () => `arn:${p}:s3:::${name()}`,
        DomainName: () => `${name()}.s3.amazonaws.com`,
        RegionalDomainName: () => `${name()}.s3.${this.region}.amazonaws.com`,
      },
      'AWS::Logs::LogGroup': { Arn: () => arn('logs', `log-group:${name()}:*`) },
      'AWS::DynamoDB::Table': {
        Arn: () => arn('dynamodb', `table/${name()}`),
        StreamArn: () => arn('dynamodb', `table/${name()}/stream/1970-01-01T00:00:00.000`),
      },
      'AWS::SQS::Queue': { Arn: () => arn('sqs', name()), QueueName: name, QueueUrl: () => this.ref(id) as string },
      'AWS::CloudTrail::Trail': { Arn: () => arn('cloudtrail', `trail/${name()}`) },
      'AWS::Lambda::Function': { Arn: () => arn('lambda', `function:${name()}`) },
      'AWS::CloudWatch::Alarm': { Arn: () => arn('cloudwatch', `alarm:${name()}`) },
      'AWS::Events::Rule': { Arn: () => arn('events', `rule/${name()}`) },
      'AWS::SecretsManager::Secret': { Arn: () => arn('secretsmanager', `secret:${name()}-AbCdEf`) },
      'AWS::CloudHSM::Cluster': {
        Arn: () => arn('cloudhsm', `cluster/${fakeClusterId(id)}`),
        ClusterId: () => fakeClusterId(id),
        SecurityGroup: () => `sg-${createHash('sha256').update(id).digest('hex').slice(0, 17)}`,
      },
    };
    const resolver = byType[res.Type]?.[attr];
    if (resolver) return resolver();
    if (attr === 'Arn') {
      // Fallback: arn:<partition>:<service>:<region>:<account>:<type>/<logical id>
      const [, service = 'unknown', type = 'resource'] = res.Type.split('::');
      return arn(service.toLowerCase(), `${type.toLowerCase()}/${id}`);
    }
    return `${id}.${attr}`;
  }

  /** Physical name: the resource's name property when set, else a name derived from the logical id. */
  private physicalName(id: string): string {
    const res = this.resource(id);
    const nameProps: Record<string, string> = {
      'AWS::IAM::Role': 'RoleName',
      'AWS::IAM::User': 'UserName',
      'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
      'AWS::KMS::Alias': 'AliasName',
      'AWS::SNS::Topic': 'TopicName',
      'AWS::S3::Bucket': 'BucketName',
      'AWS::Logs::LogGroup': 'LogGroupName',
      'AWS::DynamoDB::Table': 'TableName',
      'AWS::SQS::Queue': 'QueueName',
      'AWS::CloudTrail::Trail': 'TrailName',
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::CloudWatch::Alarm': 'AlarmName',
      'AWS::Events::Rule': 'Name',
      'AWS::SecretsManager::Secret': 'Name',
    };
    const prop = nameProps[res.Type];
    const value = prop ? res.Properties?.[prop] : undefined;
    if (value !== undefined) {
      return this.str(this.guarded(id, () => this.resolveValue(value)), `${id}.${prop}`);
    }
    // Bucket names must be lower case.
    return res.Type === 'AWS::S3::Bucket' ? id.toLowerCase() : id;
  }

  /** The IAM Path of a role/user/managed policy ('/' when unset). */
  private iamPath(id: string): string {
    const path = this.resources[id].Properties?.Path;
    return path === undefined ? '/' : this.str(this.guarded(id, () => this.resolveValue(path)), `${id}.Path`);
  }

  /** Fn::Sub, with or without a variable map. `${!Literal}` stays `${Literal}`. */
  private sub(arg: unknown): string {
    const [template, vars] = typeof arg === 'string' ? [arg, {}] : this.list(arg, 'Fn::Sub', 2);
    const variables = isObject(vars) ? vars : {};
    return this.str(template, 'Fn::Sub').replace(/\$\{([^}]*)\}/g, (_match, expr: string) => {
      if (expr.startsWith('!')) return `\${${expr.slice(1)}}`;
      if (expr in variables) return this.str(this.resolveValue(variables[expr]), `Fn::Sub \${${expr}}`);
      if (expr.startsWith('AWS::')) return this.str(this.ref(expr), `Fn::Sub \${${expr}}`);
      const dot = expr.indexOf('.');
      if (dot > 0) return this.getAtt(expr.slice(0, dot), expr.slice(dot + 1));
      return this.str(this.ref(expr), `Fn::Sub \${${expr}}`);
    });
  }

  /** Evaluate a named template condition. */
  private condition(name: string): boolean {
    if (!this.conditionCache.has(name)) {
      if (!(name in this.conditions)) throw new Error(`no condition '${name}' in the template`);
      this.conditionCache.set(name, this.guarded(`Condition:${name}`, () => this.conditionExpression(this.conditions[name])));
    }
    return this.conditionCache.get(name)!;
  }

  private conditionExpression(expr: unknown): boolean {
    if (!isObject(expr) || Object.keys(expr).length !== 1) throw new Error(`bad condition expression ${JSON.stringify(expr)}`);
    const [fn, arg] = Object.entries(expr)[0];
    switch (fn) {
      case 'Condition': return this.condition(this.str(arg, fn));
      case 'Fn::Equals': {
        const [a, b] = this.list(arg, fn, 2).map((v) => JSON.stringify(this.resolve(v)));
        return a === b;
      }
      case 'Fn::Not': return !this.conditionExpression(this.list(arg, fn, 1)[0]);
      case 'Fn::And': return this.list(arg, fn).every((c) => this.conditionExpression(c));
      case 'Fn::Or': return this.list(arg, fn).some((c) => this.conditionExpression(c));
      default: throw new Error(`PolicySimulator cannot evaluate condition function ${fn}`);
    }
  }

  /** Run `fn` while `key` is being resolved; a re-entry means a reference cycle. */
  private guarded<T>(key: string, fn: () => T): T {
    if (this.resolving.has(key)) throw new Error(`reference cycle while resolving ${key}`);
    this.resolving.add(key);
    try {
      return fn();
    } finally {
      this.resolving.delete(key);
    }
  }

  private str(value: unknown, where: string): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new Error(`${where}: expected a string, got ${JSON.stringify(value)}`);
  }

  private list(value: unknown, where: string, length?: number): unknown[] {
    if (!Array.isArray(value) || (length !== undefined && value.length !== length)) {
      throw new Error(`${where}: expected a list${length ? ` of ${length}` : ''}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  private rootArn(): string {
    return `arn:${this.partition}:iam::${this.account}:root`;
  }
}

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A UUID-shaped key id derived from the logical id (stable across runs). */
function fakeKeyId(logicalId: string): string {
  const h = createHash('sha256').update(logicalId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A CloudHSM cluster ID (cluster- and 11 letters or digits 2-7) derived from the logical id. */
function fakeClusterId(logicalId: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return `cluster-${[...createHash('sha256').update(logicalId).digest()].slice(0, 11).map(b => alphabet[b % 32]).join('')}`;
}

/** An IAM unique id (AROA..., AIDA...) derived from the logical id. */
function fakeUniqueId(prefix: string, logicalId: string): string {
  return prefix + createHash('sha256').update(logicalId).digest('hex').slice(0, 17).toUpperCase();
}

/** The SCPs and RCPs that apply to a request, and the organization context keys AWS sets. */
function organizationPolicies(request: SimulationRequest, principal: PrincipalInfo, resourceAccount: string): {
  serviceControlPolicies: Simulation['serviceControlPolicies'];
  resourceControlPolicies: Simulation['resourceControlPolicies'];
  context: ContextValues;
} {
  const org = request.organization;
  if (!org) return { serviceControlPolicies: [], resourceControlPolicies: [], context: {} };
  const inOrg = (account?: string) => account !== undefined && (account === org.managementAccount || org.memberAccounts.includes(account));
  const serviceLinked = principal.principalArn !== undefined && SERVICE_LINKED_ROLE.test(principal.principalArn);
  const context: ContextValues = {};
  if (principal.kind !== 'service' && inOrg(principal.account)) context['aws:PrincipalOrgID'] = org.id;
  if (inOrg(resourceAccount)) context['aws:ResourceOrgID'] = org.id;

  const named = (prefix: string, policies: PolicyDocument[] = []) => policies.map((policy, i) => ({ name: `${prefix}[${i}]`, policy }));
  const scpApplies = principal.kind !== 'service' && !serviceLinked && org.memberAccounts.includes(principal.account ?? '');
  const rcpApplies = !serviceLinked && org.memberAccounts.includes(resourceAccount) && request.action.toLowerCase() !== 'kms:retiregrant';
  return {
    serviceControlPolicies: scpApplies ? [
      { orgIdentifier: 'r-root', policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }] },
      { orgIdentifier: 'ou-members', policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }, ...named('scp', org.serviceControlPolicies)] },
    ] : [],
    resourceControlPolicies: rcpApplies ? [{ orgIdentifier: 'ou-members', policies: named('rcp', org.resourceControlPolicies) }] : [],
    context,
  };
}

function arnAccount(arn: string): string {
  return arn.startsWith('arn:') ? arn.split(':')[4] ?? '' : '';
}

function arnRegion(arn: string): string {
  return arn.startsWith('arn:') ? arn.split(':')[3] ?? '' : '';
}

function normaliseDecision(result: string): Decision {
  if (result === 'Allowed' || result === 'ExplicitlyDenied' || result === 'ImplicitlyDenied') return result;
  throw new Error(`unexpected iam-simulate result '${result}'`);
}

function describeRequest(r: SimulationRequest): string {
  return `${r.principalArn} ${r.action} ${r.resourceArn}`;
}

/**
 * Check caller-supplied context values: the key must exist and its value(s) must fit the
 * key's type. iam-simulate does neither (it drops unknown keys and takes the first element
 * of a list given for a single-valued key).
 */
async function validateContext(context: ContextValues): Promise<void> {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(context)) {
    let type;
    try {
      type = await typeForContextKey(key);
    } catch {
      problems.push(`unknown context key '${key}'`);
      continue;
    }
    if (!isConditionKeyArray(type) && Array.isArray(value) && value.length !== 1) {
      problems.push(`'${key}' is single-valued (${type}) but got ${JSON.stringify(value)}`);
    }
    const base = type.replace(/^ArrayOf/, '');
    for (const v of Array.isArray(value) ? value : [value]) {
      if (!valueFitsType(base, v)) problems.push(`'${key}' is ${type} but got ${JSON.stringify(v)}`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid request context:\n  ${problems.join('\n  ')}`);
}

/** Shape a context value the way iam-simulate's validated entry point does (list vs single value). */
async function normaliseContextValue(key: string, value: string | string[]): Promise<string | string[]> {
  if (isConditionKeyArray(await typeForContextKey(key))) return [value].flat();
  return Array.isArray(value) ? value[0] : value;
}

/** Whether the request's action supports kms:EncryptionContext:<key> condition keys. */
async function takesEncryptionContext(request: SimulationRequest): Promise<boolean> {
  const [service, action] = request.action.split(':');
  const keys = await allowedContextKeysForRequest(service, action, request.resourceArn, false, undefined);
  return keys.includes('kms:encryptioncontext:${encryptioncontextkey}');
}

function valueFitsType(type: string, value: string): boolean {
  switch (type) {
    case 'Bool': return /^(true|false)$/i.test(value);
    case 'Numeric': return /^-?\d+(\.\d+)?$/.test(value);
    case 'Date': return /^\d+$/.test(value) || !Number.isNaN(Date.parse(value));
    case 'ARN': return value.startsWith('arn:');
    case 'IPAddress': return /^[\d.]+(\/\d+)?$|^[0-9a-f:]+(\/\d+)?$/i.test(value);
    default: return typeof value === 'string';
  }
}

/** A few lines naming the decisive statements of each evaluated policy type. */
function summarise(request: SimulationRequest, result: RunSimulationResults): string {
  const lines = [describeRequest(request)];
  if (result.resultType === 'error') {
    lines.push(`error: ${JSON.stringify(result.errors)}`);
    return lines.join('\n');
  }
  lines.push(`overall: ${result.overallResult}`);
  const items = result.resultType === 'single'
    ? [{ pattern: request.resourceArn, ...result.result }]
    : result.results.map((r) => ({ pattern: r.resourcePattern, ...r }));
  type Analysed = { policyId: string | undefined; statement: { sid(): string | undefined; index(): number } };
  // iam-simulate leaves the resource policy unnamed.
  const ids = (list: Analysed[]) => list.map((s) => `${s.policyId ?? 'resourcePolicy'}#${s.statement.sid() ?? s.statement.index()}`).join(', ') || '-';
  if (items.length === 0) lines.push('no policy matched the wildcard resource pattern');
  for (const item of items) {
    const a = item.analysis;
    lines.push(`[${item.pattern}] ${a.result} (sameAccount=${a.sameAccount}${a.blockedBy ? `, blockedBy=${a.blockedBy.join('/')}` : ''})`);
    if (a.identityAnalysis) {
      lines.push(`  identity ${a.identityAnalysis.result}: allow ${ids(a.identityAnalysis.allowStatements)}; deny ${ids(a.identityAnalysis.denyStatements)}`);
    }
    if (a.resourceAnalysis) {
      lines.push(`  resource ${a.resourceAnalysis.result}: allow ${ids(a.resourceAnalysis.allowStatements)}; deny ${ids(a.resourceAnalysis.denyStatements)}`);
    }
    if (a.permissionBoundaryAnalysis) lines.push(`  boundary ${a.permissionBoundaryAnalysis.result}`);
    if (item.ignoredContextKeys?.length) lines.push(`  ignored context keys: ${item.ignoredContextKeys.join(', ')}`);
  }
  return lines.join('\n');
}
