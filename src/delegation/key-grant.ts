// KeyGrant: a KMS grant on a ClassifiedKey, for temporary and narrowly constrained
// delegation, through a custom resource (CloudFormation has no grant resource).
import { CustomResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { KeyGrantFunction } from './key-grant-function';
import { HandlerVpcOptions } from '../custom-resources/handler-vpc';
import { providerFor } from '../custom-resources/provider-support';
import { KEY_GRANT_TYPE } from '../custom-resources/resource-types';
import { DataClassification } from '../key/classification';
import { ClassifiedKey } from '../key/classified-key';
import { granteeOf, GranteeKind } from '../key/grantee';

/** An operation a KMS grant can allow. */
export enum KeyGrantOperation {
  DECRYPT = 'Decrypt',
  ENCRYPT = 'Encrypt',
  GENERATE_DATA_KEY = 'GenerateDataKey',
  GENERATE_DATA_KEY_WITHOUT_PLAINTEXT = 'GenerateDataKeyWithoutPlaintext',
  GENERATE_DATA_KEY_PAIR = 'GenerateDataKeyPair',
  GENERATE_DATA_KEY_PAIR_WITHOUT_PLAINTEXT = 'GenerateDataKeyPairWithoutPlaintext',
  RE_ENCRYPT_FROM = 'ReEncryptFrom',
  RE_ENCRYPT_TO = 'ReEncryptTo',
  SIGN = 'Sign',
  VERIFY = 'Verify',
  GET_PUBLIC_KEY = 'GetPublicKey',
  GENERATE_MAC = 'GenerateMac',
  VERIFY_MAC = 'VerifyMac',
  DERIVE_SHARED_SECRET = 'DeriveSharedSecret',
  DESCRIBE_KEY = 'DescribeKey',
  RETIRE_GRANT = 'RetireGrant',
}

/**
 * Properties of a KeyGrant.
 */
export interface KeyGrantProps {
  /** The key the grant is on. */
  readonly key: ClassifiedKey;

  /**
   * Who gets the grant's operations: an IAM role or user, by construct or ARN, or an AWS
   * service principal (then `sourceArn` and `retiringPrincipal` are required, as KMS asks).
   * Never an account root, `*`, or the key's admin role.
   */
  readonly grantee: iam.IPrincipal;

  /** What the grant allows: only operations of the key's usage. */
  readonly operations: KeyGrantOperation[];

  /**
   * The grant allows its cryptographic operations only when the request's encryption
   * context includes these pairs. Symmetric encryption keys only.
   *
   * @default - no encryption context constraint
   */
  readonly encryptionContextSubset?: Record<string, string>;

  /**
   * The grant allows its cryptographic operations only when the request's encryption
   * context is exactly these pairs. Symmetric encryption keys only.
   *
   * @default - no encryption context constraint
   */
  readonly encryptionContextEquals?: Record<string, string>;

  /**
   * The grant allows its operations only for requests made for this AWS resource
   * (the `SourceArn` grant constraint, as `aws:SourceArn`). Required for a service principal.
   *
   * @default - no source constraint
   */
  readonly sourceArn?: string;

  /**
   * Who may retire the grant besides the key's account: an IAM role or user, or a service principal.
   *
   * @default - none (required for a service principal grantee)
   */
  readonly retiringPrincipal?: iam.IPrincipal;

  /**
   * The grant is revoked this long after KMS creates it, by a schedule that runs the
   * grant's handler (within a quarter of the lifetime, and at most 15 minutes, after
   * it ends). At least 15 minutes. Deploying the grant again after it expired needs a change.
   *
   * @default - the grant lasts until the KeyGrant is deleted or changed
   */
  readonly expiresAfter?: Duration;

  /**
   * Lets a grant on a CONFIDENTIAL or RESTRICTED key have no encryption context or
   * source constraint: use of the key by the grantee, for anything.
   *
   * @default false
   */
  readonly allowUnconstrained?: boolean;

  /**
   * Lets a grant to a principal on a key held to `viaServices`: a grant cannot be held to
   * services, so its grantee may then also call KMS directly (within the grant's
   * constraints, which should be the encryption context those services set).
   *
   * @default false
   */
  readonly allowUseOutsideViaServices?: boolean;

  /**
   * Runs the grant's handler in a VPC, as the library's other handlers.
   *
   * @default - outside any VPC
   */
  readonly handlerVpc?: HandlerVpcOptions;
}

/** Which grant operations each key usage supports (DescribeKey and RetireGrant are always allowed). */
const OPERATIONS_BY_USAGE: Record<string, KeyGrantOperation[]> = {
  [kms.KeyUsage.ENCRYPT_DECRYPT]: [
    KeyGrantOperation.DECRYPT, KeyGrantOperation.ENCRYPT, KeyGrantOperation.RE_ENCRYPT_FROM, KeyGrantOperation.RE_ENCRYPT_TO,
    KeyGrantOperation.GENERATE_DATA_KEY, KeyGrantOperation.GENERATE_DATA_KEY_WITHOUT_PLAINTEXT,
    KeyGrantOperation.GENERATE_DATA_KEY_PAIR, KeyGrantOperation.GENERATE_DATA_KEY_PAIR_WITHOUT_PLAINTEXT, KeyGrantOperation.GET_PUBLIC_KEY,
  ],
  [kms.KeyUsage.SIGN_VERIFY]: [KeyGrantOperation.SIGN, KeyGrantOperation.VERIFY, KeyGrantOperation.GET_PUBLIC_KEY],
  [kms.KeyUsage.GENERATE_VERIFY_MAC]: [KeyGrantOperation.GENERATE_MAC, KeyGrantOperation.VERIFY_MAC],
  [kms.KeyUsage.KEY_AGREEMENT]: [KeyGrantOperation.DERIVE_SHARED_SECRET, KeyGrantOperation.GET_PUBLIC_KEY],
};
/** Operations of symmetric encryption keys only (data keys), or of asymmetric ones only. */
const SYMMETRIC_ONLY = [
  KeyGrantOperation.GENERATE_DATA_KEY, KeyGrantOperation.GENERATE_DATA_KEY_WITHOUT_PLAINTEXT,
  KeyGrantOperation.GENERATE_DATA_KEY_PAIR, KeyGrantOperation.GENERATE_DATA_KEY_PAIR_WITHOUT_PLAINTEXT,
];
const ALWAYS = [KeyGrantOperation.DESCRIBE_KEY, KeyGrantOperation.RETIRE_GRANT];
const MIN_LIFETIME = Duration.minutes(15);
/** The classifications whose grants need a constraint, or an opt-in by name. */
const SENSITIVE = [DataClassification.CONFIDENTIAL, DataClassification.RESTRICTED];

/**
 * A KMS grant on a ClassifiedKey: temporary, narrowly constrained delegation of the key's
 * use to a principal, without changing its key policy for every use. A custom resource
 * calls `CreateGrant` (grant ID and token as attributes), `RevokeGrant` when the KeyGrant
 * is deleted or changed (a grant cannot change: a change makes a new one), and, with
 * `expiresAfter`, a schedule revokes it when its time is up.
 *
 * The key policy lets the grant's handler `CreateGrant` for this grantee, operations,
 * retiring principal and constraints only, and `ListGrants` and `RevokeGrant`; the key's deny of
 * grants not for AWS resources (Control Tower CT.KMS.PR.3) then excepts the handler by
 * `aws:PrincipalArn`, which that control does not accept: a documented exception.
 *
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/grants.html
 */
export class KeyGrant extends Construct {
  /** The key the grant is on. */
  public readonly key: ClassifiedKey;
  /** The grant's ID. */
  public readonly grantId: string;
  /** A grant token, for the grantee's first calls before the grant is consistent everywhere. */
  public readonly grantToken: string;
  /** The grant's name: what its CloudTrail events and ListGrants show. */
  public readonly grantName: string;

  constructor(scope: Construct, id: string, props: KeyGrantProps) {
    super(scope, id);
    const grant = resolveGrant(this, props);
    const { provider, handlerRole } = providerFor(this, KEY_GRANT_HANDLER, props.handlerVpc);
    const key = props.key;
    this.key = key;
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: KEY_GRANT_TYPE,
      properties: {
        KeyId: key.keyArn,
        ...grant.grantee,
        ...grant.retiring,
        Operations: props.operations,
        EncryptionContextSubset: props.encryptionContextSubset,
        EncryptionContextEquals: props.encryptionContextEquals,
        SourceArn: props.sourceArn,
        ExpiresAfterSeconds: props.expiresAfter?.toSeconds().toString(),
      },
    });

    // The key policy, which a ClassifiedKey obeys alone: this grant and no other, and the grants' upkeep.
    const narrowing = key._addGrantCreator(handlerRole.roleArn, [
      new iam.PolicyStatement({
        principals: [new iam.ArnPrincipal(handlerRole.roleArn)],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: grantConditions(props, grant),
      }),
      // RevokeGrant names no grantee: the handler can revoke any grant of the key.
      new iam.PolicyStatement({
        principals: [new iam.ArnPrincipal(handlerRole.roleArn)],
        actions: ['kms:ListGrants', 'kms:RevokeGrant'],
        resources: ['*'],
      }),
    ]);
    checkNarrowing(key, props, grant, narrowing);

    if (props.expiresAfter) expireWith(this, provider.onEventHandler, key, props.expiresAfter);
    this.grantId = resource.getAttString('GrantId');
    this.grantToken = resource.getAttString('GrantToken');
    this.grantName = resource.getAttString('GrantName');
  }
}

/**
 * What the handler's CreateGrant must ask, to the letter: the grantee, the operations
 * (all of them named, `Null` so that a request without them does not pass), the
 * retiring principal or none, and the constraints: their type, each encryption context
 * pair (`kms:EncryptionContext:<key>` reads a grant's constraint), the source ARN.
 * A forged event during the resource's own deployment can then make no other grant.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-constraint-type
 */
function grantConditions(props: KeyGrantProps, grant: ResolvedGrant): Record<string, Record<string, unknown>> {
  const equals: Record<string, unknown> = {};
  const absent: Record<string, string> = { 'kms:GrantOperations': 'false' };
  if (grant.grantee.GranteePrincipal !== undefined) equals['kms:GranteePrincipal'] = grant.grantee.GranteePrincipal;
  else equals['kms:GranteeServicePrincipal'] = grant.grantee.GranteeServicePrincipal;
  if (grant.retiring.RetiringPrincipal !== undefined) equals['kms:RetiringPrincipal'] = grant.retiring.RetiringPrincipal;
  else absent['kms:RetiringPrincipal'] = 'true';
  if (grant.retiring.RetiringServicePrincipal !== undefined) equals['kms:RetiringServicePrincipal'] = grant.retiring.RetiringServicePrincipal;
  else absent['kms:RetiringServicePrincipal'] = 'true';
  const context = props.encryptionContextSubset ?? props.encryptionContextEquals;
  if (context) {
    equals['kms:GrantConstraintType'] = props.encryptionContextSubset ? 'EncryptionContextSubset' : 'EncryptionContextEquals';
    for (const [k, v] of Object.entries(context)) equals[`kms:EncryptionContext:${k}`] = v;
  }
  if (props.sourceArn !== undefined) equals['kms:GrantConstraintSourceArn'] = props.sourceArn;
  if (!context && props.sourceArn === undefined) absent['kms:GrantConstraintType'] = 'true';
  return {
    'StringEquals': equals,
    'ForAllValues:StringEquals': { 'kms:GrantOperations': props.operations, ...context ? { 'kms:EncryptionContextKeys': Object.keys(context) } : {} },
    'Null': absent,
  };
}

/**
 * A grant is an allow of its own: the key policy's `viaServices` and
 * `encryptionContextKeys` conditions do not reach it. So a grant to a principal on a key
 * held to services needs the opt-in by name, and its encryption context constraint must
 * name every key the key asks for.
 */
function checkNarrowing(
  key: ClassifiedKey, props: KeyGrantProps, grant: ResolvedGrant, narrowing: { viaServices?: string[]; encryptionContextKeys?: string[] },
): void {
  if (narrowing.viaServices?.length && grant.grantee.GranteePrincipal !== undefined && !props.allowUseOutsideViaServices) {
    throw new Error(`a grant on ${key.node.path}, whose use is held to viaServices [${narrowing.viaServices.join(', ')}], lets its grantee call KMS directly too: `
      + 'a grant cannot be held to services. Constrain it by the encryption context those services set, and opt in with allowUseOutsideViaServices: true, got none');
  }
  const context = props.encryptionContextSubset ?? props.encryptionContextEquals ?? {};
  const missing = (narrowing.encryptionContextKeys ?? []).filter(k => !(k in context));
  if (missing.length > 0) {
    throw new Error(`the grant's encryption context constraint must name every key ${key.node.path} asks requests for (encryptionContextKeys), missing ${missing.join(', ')}`);
  }
}

/** The schedule that revokes the key's expired KeyGrant grants, by running the handler. */
function expireWith(scope: Construct, handler: lambda.IFunction, key: ClassifiedKey, lifetime: Duration): void {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'ExpiryRole', {
    description: `Lets EventBridge Scheduler run the KeyGrant handler to revoke ${scope.node.path} when it expires`,
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
  });
  new iam.ManagedPolicy(scope, 'ExpiryPolicy', {
    description: `Runs the KeyGrant handler to revoke ${scope.node.path} when it expires`,
    roles: [role],
    statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [handler.functionArn] })],
  });
  const minutes = Math.min(15, Math.max(1, Math.floor(lifetime.toMinutes() / 4)));
  new scheduler.CfnSchedule(scope, 'Expiry', {
    description: `Revokes the grant of ${scope.node.path} once its ${lifetime.toHumanString()} are up`,
    scheduleExpression: `rate(${minutes} minute${minutes === 1 ? '' : 's'})`,
    flexibleTimeWindow: { mode: 'OFF' },
    target: {
      arn: handler.functionArn,
      roleArn: role.roleArn,
      input: stack.toJsonString({ expireGrants: { KeyId: key.keyArn } }),
      retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 600 },
    },
  });
}

interface ResolvedGrant {
  readonly grantee: { GranteePrincipal?: string; GranteeServicePrincipal?: string };
  readonly retiring: { RetiringPrincipal?: string; RetiringServicePrincipal?: string };
}

/** The grant's principals, and the checks of its props: each refusal names the prop and the value. */
function resolveGrant(scope: Construct, props: KeyGrantProps): ResolvedGrant {
  const key = props.key;
  if (Stack.of(key) !== Stack.of(scope)) {
    throw new Error(`key must be in the KeyGrant's stack ${Stack.of(scope).stackName}, where its policy names the grant's handler, got ${key.node.path} of ${Stack.of(key).stackName}`);
  }
  const usage = OPERATIONS_BY_USAGE[key.keyUsage] ?? [];
  const symmetric = key.keySpec === kms.KeySpec.SYMMETRIC_DEFAULT;
  if (props.operations.length === 0) throw new Error('operations must name at least one operation, got []');
  for (const op of props.operations) {
    const allowed = [...ALWAYS, ...usage].filter(o => symmetric ? o !== KeyGrantOperation.GET_PUBLIC_KEY : !SYMMETRIC_ONLY.includes(o));
    if (!allowed.includes(op)) {
      throw new Error(`operations must be operations of ${key.node.path}'s usage (${key.keySpec} for ${key.keyUsage}: ${allowed.join(', ')}), got ${op}`);
    }
  }
  if (new Set(props.operations).size !== props.operations.length) throw new Error(`operations lists an operation twice, got [${props.operations.join(', ')}]`);

  const grantee = principalOf(scope, 'grantee', props.grantee);
  if (grantee.service && (!props.sourceArn || !props.retiringPrincipal)) {
    throw new Error(`a grant to the service principal ${grantee.value} needs sourceArn and retiringPrincipal, as KMS asks of grants to services, got `
      + `sourceArn ${props.sourceArn ?? 'undefined'} and retiringPrincipal ${props.retiringPrincipal ? 'set' : 'undefined'}`);
  }
  const admin = Stack.of(scope).resolve(key.adminRole.roleArn);
  if (JSON.stringify(Stack.of(scope).resolve(grantee.value)) === JSON.stringify(admin)) {
    throw new Error(`grantee must not be the admin role of ${key.node.path}: its administrators manage the key and never use it, got ${key.adminRole.node.path}`);
  }
  const retiring = props.retiringPrincipal ? principalOf(scope, 'retiringPrincipal', props.retiringPrincipal) : undefined;

  const contexts = [props.encryptionContextSubset, props.encryptionContextEquals].filter(c => c !== undefined);
  if (contexts.length > 1) throw new Error('encryptionContextSubset and encryptionContextEquals are exclusive: give one');
  for (const [name, context] of [['encryptionContextSubset', props.encryptionContextSubset], ['encryptionContextEquals', props.encryptionContextEquals]] as const) {
    if (context === undefined) continue;
    if (Object.keys(context).length === 0) throw new Error(`${name} must hold at least one pair, or be left out, got {}`);
    if (!symmetric) throw new Error(`${name} applies to symmetric encryption keys only, and ${key.node.path} is ${key.keySpec}`);
  }
  const constrained = contexts.length > 0 || props.sourceArn !== undefined;
  if (SENSITIVE.includes(key.classification) && !constrained && !props.allowUnconstrained) {
    throw new Error(`a grant on ${key.classification} key ${key.node.path} must be constrained by encryptionContextSubset, encryptionContextEquals or sourceArn, `
      + 'or opt in with allowUnconstrained: true, got none');
  }
  if (props.expiresAfter && props.expiresAfter.toSeconds() < MIN_LIFETIME.toSeconds()) {
    throw new Error(`expiresAfter must be at least ${MIN_LIFETIME.toHumanString()} (a deployment outlasts less), got ${props.expiresAfter.toHumanString()}`);
  }
  return {
    grantee: grantee.service ? { GranteeServicePrincipal: grantee.value } : { GranteePrincipal: grantee.value },
    retiring: retiring === undefined ? {} : retiring.service ? { RetiringServicePrincipal: retiring.value } : { RetiringPrincipal: retiring.value },
  };
}

/** A role, user or service principal, by ARN or name; anything else is refused. */
function principalOf(scope: Construct, name: string, principal: iam.IPrincipal): { value: string; service: boolean } {
  const read = granteeOf(scope, principal);
  const json = principal.policyFragment.principalJson;
  switch (read.kind) {
    case GranteeKind.SERVICE:
      // A ServicePrincipal's name is a token that resolves to its string.
      return { value: Stack.of(scope).resolve(json.Service[0]), service: true };
    case GranteeKind.NAMED:
      if (json.AWS?.length === 1) return { value: json.AWS[0], service: false };
      break;
    case GranteeKind.ACCOUNT:
      throw new Error(`${name} must not be an account root: a grant to ${read.description} lets every IAM principal of the account that IAM allows use the key`);
    default:
      break;
  }
  throw new Error(`${name} must be one IAM role or user, or one service principal, got ${read.description}`
    + (Token.isUnresolved(json.AWS?.[0] ?? '') ? ' (an ARN known only at deploy time may be an account root)' : ''));
}

const KEY_GRANT_HANDLER = {
  name: 'KeyGrant',
  makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new KeyGrantFunction(scope, id, options),
  // A create waits out IAM propagation of a new grantee: 2 + 4 + 8 + 16 + 32 s.
  timeout: Duration.minutes(2),
  endpointServices: ['kms'],
};
