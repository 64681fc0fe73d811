import { CustomResource, Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct } from 'constructs';
import { defaultSubnets, HandlerNetwork } from './handler-network';
import { handlerFunction, handlerRuntime } from './handler-runtime';
import { HandlerVpcOptions } from './handler-vpc';
import { DataClassification } from '../key/classification';
import { ClassifiedKey } from '../key/classified-key';
import { acknowledgeCustomResourceFunction, acknowledgeFrameworkInvoke, acknowledgeProviderWaiter, acknowledgeWildcardResources } from '../nag';
import { STACK_ID_VARIABLE } from './resource-types';

/*
 * The library's custom resources run on aws-cdk-lib's Provider framework. This module
 * makes one provider per stack and handler, and holds what every provider of a stack
 * shares: a log group encrypted with a key of the library, kept for a year, and the
 * roles, each allowed only what its function does.
 */

/** What a handler is and may do. */
export interface HandlerSpec {
  /** A name for the provider, unique in the stack, as `PrimaryKeyLookup`. */
  readonly name: string;
  /** Makes the handler's function (a projen-bundled `*.lambda.ts`) with these options. */
  readonly makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => lambda.Function;
  /** How long one call of the handler may take. */
  readonly timeout: Duration;
  /** What the handler calls whatever the custom resource, in the provider's stack. */
  readonly statements?: (stack: Stack) => iam.PolicyStatement[];
  /**
   * The interface endpoint services the handler calls in its own Region, as `kms`,
   * beyond those every provider calls (CloudFormation, Lambda, Step Functions).
   */
  readonly endpointServices: string[];
  /** Whether the handler calls another Region's APIs, which a VPC reaches only through a NAT gateway. */
  readonly callsOtherRegions?: boolean;
  /**
   * Why the handler's (and its wait's) statements name `*`: for cdk-nag's
   * AwsSolutions-IAM5, which the provider then acknowledges with this reason.
   */
  readonly wildcardReason?: string;
  /** A wait for what the handler started, run by the framework until it says it is done. */
  readonly isComplete?: {
    /** What the wait calls. */
    readonly statements: () => iam.PolicyStatement[];
    /** Makes the wait's function (a projen-bundled `*.lambda.ts`) with these options. */
    readonly makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => lambda.Function;
    /** How often the framework asks. */
    readonly queryInterval: Duration;
    /** How long it asks before failing the deployment. */
    readonly totalTimeout: Duration;
  };
}

/** A handler's provider in a stack, and the role its calls are allowed to. */
export interface HandlerProvider {
  readonly provider: cr.Provider;
  /** The handler's policy: add what each custom resource needs it to call, no more. */
  readonly handlerPolicy: iam.ManagedPolicy;
  /** The handler's role, for policies that must name it. */
  readonly handlerRole: iam.IRole;
  /** The wait's role, when the handler has a wait. */
  readonly isCompleteRole?: iam.IRole;
}

/**
 * The provider of a handler in the scope's stack, made on first use, in the
 * `handlerVpc` of the construct that first needs it; every later user must name the
 * same placement. One provider per handler and stack, whatever the placement, so
 * that giving a deployed construct `handlerVpc` moves its functions into the VPC in
 * place: a custom resource's service token cannot change.
 */
export function providerFor(scope: IConstruct, spec: HandlerSpec, vpc?: HandlerVpcOptions): HandlerProvider {
  return CustomResourceSupport.of(scope).provider(spec, scope, vpc);
}

/**
 * What a role of a provider may do for one custom resource alone, as a managed policy
 * of the resource's own: attached to the role before CloudFormation sends the
 * resource, kept until it is deleted, and one per resource, so that the provider's
 * shared policy does not grow with each (a managed policy holds 6,144 characters).
 */
export function policyForResource(
  resource: CustomResource, id: string, role: iam.IRole, statements: iam.PolicyStatement[], wildcardReason?: string,
): iam.ManagedPolicy {
  const policy = new iam.ManagedPolicy(resource.node.scope as Construct, id, {
    description: `What cdk-kms-constructs' custom resource ${resource.node.path} needs its functions to call`,
    roles: [role],
    statements,
  });
  resource.node.addDependency(policy);
  if (wildcardReason) acknowledgeWildcardResources(policy, wildcardReason);
  return policy;
}

class CustomResourceSupport extends Construct {
  public static of(scope: IConstruct): CustomResourceSupport {
    const stack = Stack.of(scope);
    const id = 'KmsConstructsCustomResources';
    return (stack.node.tryFindChild(id) as CustomResourceSupport | undefined) ?? new CustomResourceSupport(stack, id);
  }

  private readonly logGroup: logs.LogGroup;
  private readonly providers = new Map<string, HandlerProvider & { readonly network?: HandlerNetwork; readonly user: string }>();
  private readonly networks = new Map<string, HandlerNetwork>();

  private constructor(scope: Stack, id: string) {
    super(scope, id);
    const key = new ClassifiedKey(this, 'LogsKey', {
      classification: DataClassification.INTERNAL,
      description: `Encrypts the logs of the custom resources of cdk-kms-constructs in ${scope.stackName}`,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // Named, so that the key policy lets CloudWatch Logs use the key for this group only.
      logGroupName: `/cdk-kms-constructs/${scope.stackName}/custom-resources`,
      encryptionKey: key as kms.IKey,
      retention: logs.RetentionDays.ONE_YEAR,
    });
  }

  public provider(spec: HandlerSpec, user: IConstruct, vpcOptions?: HandlerVpcOptions): HandlerProvider {
    const network = vpcOptions ? this.network(vpcOptions, spec) : undefined;
    const existing = this.providers.get(spec.name);
    if (existing) {
      if (existing.network !== network) {
        const where = (n?: HandlerNetwork) => (n ? `in ${n.describe()}` : 'outside any VPC');
        throw new Error(`handlerVpc of ${user.node.path} (${where(network)}) must be the same as that of ${existing.user} (${where(existing.network)}): `
          + `the stack's ${spec.name} functions are shared by every construct that needs them, so give them all the same handlerVpc, or none`);
      }
      return existing;
    }
    const scope = new Construct(this, spec.name);
    if (network) network.needs(['cloudformation', 'lambda', ...spec.isComplete ? ['states'] : [], ...spec.endpointServices]);
    const vpcPlacement = network ? { vpc: network.vpc, vpcSubnets: { subnets: network.subnets }, securityGroups: network.securityGroups } : {};
    const handlerAccess = this.access(scope, 'Handler', `Runs the ${spec.name} handler of cdk-kms-constructs`, network);
    const handler = handlerFunction(spec.makeFunction, scope, 'Handler', {
      ...vpcPlacement,
      description: `cdk-kms-constructs ${spec.name} custom resource handler`,
      role: handlerAccess.role,
      logGroup: this.logGroup,
      timeout: spec.timeout,
      memorySize: 256,
      environment: this.handlerEnvironment(),
    });
    handler.node.addDependency(handlerAccess.policy);
    acknowledgeCustomResourceFunction(handler);
    handlerAccess.policy.addStatements(this.eventVerification(), ...spec.statements?.(Stack.of(this)) ?? []);
    if (spec.wildcardReason) acknowledgeWildcardResources(handlerAccess.policy, spec.wildcardReason);

    let isComplete: lambda.Function | undefined;
    let isCompleteAccess: { role: iam.IRole; policy: iam.ManagedPolicy } | undefined;
    if (spec.isComplete) {
      isCompleteAccess = this.access(scope, 'IsComplete', `Waits for what the ${spec.name} handler of cdk-kms-constructs started`, network);
      isComplete = handlerFunction(spec.isComplete.makeFunction, scope, 'IsComplete', {
        ...vpcPlacement,
        description: `cdk-kms-constructs ${spec.name} custom resource wait`,
        role: isCompleteAccess.role,
        logGroup: this.logGroup,
        timeout: Duration.minutes(1),
        memorySize: 256,
        environment: this.handlerEnvironment(),
      });
      isComplete.node.addDependency(isCompleteAccess.policy);
      acknowledgeCustomResourceFunction(isComplete);
      isCompleteAccess.policy.addStatements(this.eventVerification(), ...spec.isComplete.statements());
      if (spec.wildcardReason) acknowledgeWildcardResources(isCompleteAccess.policy, spec.wildcardReason);
    }

    // The framework's functions call the handlers (any version) and read their
    // configuration: its onEvent the handler (and it starts the waiter), its
    // isComplete and onTimeout the wait, each with a role of its own (one role for all
    // would make a cycle through the waiter).
    const invoking = (fn: lambda.Function) => [
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn, `${fn.functionArn}:*`] }),
      new iam.PolicyStatement({ actions: ['lambda:GetFunction'], resources: [fn.functionArn] }),
    ];
    const frameworkAccess = this.access(scope, 'Framework', `Runs the Provider framework of the ${spec.name} handler of cdk-kms-constructs`, network);
    frameworkAccess.policy.addStatements(...invoking(handler));
    const waitAccess = isComplete
      ? this.access(scope, 'FrameworkWait', `Runs the Provider framework's wait of the ${spec.name} handler of cdk-kms-constructs`, network)
      : undefined;
    if (isComplete) waitAccess!.policy.addStatements(...invoking(isComplete));
    const provider = new cr.Provider(scope, 'Provider', {
      ...vpcPlacement,
      onEventHandler: handler,
      isCompleteHandler: isComplete,
      queryInterval: spec.isComplete?.queryInterval,
      totalTimeout: spec.isComplete?.totalTimeout,
      logGroup: this.logGroup,
      frameworkOnEventRole: frameworkAccess.role,
      frameworkCompleteAndTimeoutRole: waitAccess?.role,
      ...(isComplete ? {
        disableWaiterStateMachineLogging: false,
        waiterStateMachineLogOptions: { destination: this.logGroup, level: sfn.LogLevel.ALL },
      } : {}),
    });
    const frameworkFunctions = provider.node.children.filter((c): c is lambda.Function => c instanceof lambda.Function);
    for (const framework of frameworkFunctions) {
      framework.node.addDependency(framework.node.id === 'framework-onEvent' ? frameworkAccess.policy : waitAccess!.policy);
      // The framework's runtime comes from the Region's facts, which lag the newest
      // runtime aws-cdk-lib knows (cdk-nag's AwsSolutions-L1); its code runs on either.
      (framework.node.defaultChild as lambda.CfnFunction).runtime = handlerRuntime(this).name;
      acknowledgeCustomResourceFunction(framework);
    }
    const logicalId = (fn: lambda.Function) => Stack.of(this).resolve((fn.node.defaultChild as lambda.CfnFunction).logicalId);
    acknowledgeFrameworkInvoke(frameworkAccess.policy, [logicalId(handler)]);
    if (isComplete) acknowledgeFrameworkInvoke(waitAccess!.policy, [logicalId(isComplete)]);
    const waiter = provider.node.tryFindChild('waiter-state-machine');
    if (waiter) {
      // The framework's onEvent starts the waiter; aws-cdk-lib's grant of it went to
      // the immutable role, so it is written here.
      frameworkAccess.policy.addStatements(new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [(waiter as unknown as { stateMachineArn: string }).stateMachineArn],
      }));
      // Traced with X-Ray (Control Tower's CT.STEPFUNCTIONS.PR.2), which Step Functions
      // does as the state machine's role.
      // https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html
      (waiter.node.findChild('Resource') as sfn.CfnStateMachine).tracingConfiguration = { enabled: true };
      (waiter.node.findChild('Role') as iam.Role).addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
        resources: ['*'],
      }));
      acknowledgeProviderWaiter(waiter, frameworkFunctions.filter(fn => fn.node.id !== 'framework-onEvent').map(logicalId));
    }
    const made = { provider, handlerPolicy: handlerAccess.policy, handlerRole: handlerAccess.role, isCompleteRole: isCompleteAccess?.role };
    this.providers.set(spec.name, { ...made, network, user: user.node.path });
    return made;
  }

  /** The placement of `handlerVpc` in this stack, checked, made once per VPC, subnets and security groups. */
  private network(options: HandlerVpcOptions, spec: HandlerSpec): HandlerNetwork {
    const { vpc } = options;
    const selected = vpc.selectSubnets(options.subnets ?? defaultSubnets(vpc));
    const describe = (subnets: ec2.ISubnet[]) => subnets.map(s => (Token.isUnresolved(s.subnetId) ? s.node.path : s.subnetId)).join(', ');
    if (selected.hasPublic) {
      throw new Error(`handlerVpc.subnets must select private subnets (a function in a public subnet has no public address, so it reaches nothing), got ${describe(selected.subnets)}`);
    }
    if (selected.subnets.length === 0) {
      throw new Error(`handlerVpc.subnets selects no subnet of VPC ${vpc.node.path}: give private subnets, with egress or isolated`);
    }
    if (spec.callsOtherRegions && selected.subnets.every(subnet => vpc.isolatedSubnets.includes(subnet))) {
      throw new Error(`handlerVpc.subnets must have egress (a NAT gateway) for the ${spec.name} handler, which calls the primary Region's CloudFormation and KMS: `
        + `no VPC endpoint of this Region serves another Region's APIs; got isolated subnets ${describe(selected.subnets)}`);
    }
    const subnetKey = JSON.stringify(Stack.of(this).resolve(selected.subnetIds));
    const groupKey = (options.securityGroups ?? []).map(group => Names.nodeUniqueId(group.node)).join(',');
    const key = [Names.nodeUniqueId(vpc.node), subnetKey, groupKey, options.createEndpoints === true].join('|');
    let network = this.networks.get(key);
    if (!network) {
      network = new HandlerNetwork(this, `Vpc${this.networks.size + 1}`, options, selected.subnets);
      this.networks.set(key, network);
    }
    return network;
  }

  /**
   * What a handler is told of its stack: the stack's ID, against which it checks each
   * event before it acts (src/custom-resources/event-verification.ts).
   */
  private handlerEnvironment(): Record<string, string> {
    return { [STACK_ID_VARIABLE]: Stack.of(this).stackId };
  }

  /** What checking an event calls: CloudFormation's record of this stack, and of no other. */
  private eventVerification(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      actions: ['cloudformation:DescribeStackResource', 'cloudformation:DescribeStacks', 'cloudformation:DescribeStackEvents'],
      resources: [Stack.of(this).stackId],
    });
  }

  /**
   * A role for a function of this stack's custom resources and the one managed policy
   * that says what it may do, starting with writing its logs. The function sees the
   * role as immutable, so that nothing adds to it behind the policy's back.
   */
  private access(scope: Construct, name: string, description: string, network?: HandlerNetwork): { role: iam.IRole; policy: iam.ManagedPolicy } {
    const role = new iam.Role(scope, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description,
    });
    const policy = new iam.ManagedPolicy(scope, `${name}Policy`, {
      description: `What the ${name.toLowerCase()} function of ${scope.node.id} may do`,
      roles: [role],
      statements: [new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      })],
    });
    if (network) {
      // Lambda makes and removes the function's network interfaces with the role's
      // permissions, which AWS documents on all resources.
      // https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
      policy.addStatements(new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }));
      acknowledgeWildcardResources(policy, 'Lambda manages the network interfaces of a function in a VPC with its role, on all resources as AWS documents (configuration-vpc)');
    }
    return { role: role.withoutPolicyUpdates(), policy };
  }
}
