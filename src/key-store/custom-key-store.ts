import { CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { ICloudHsmCluster } from './cloudhsm-cluster';
import { CustomKeyStoreConnectionFunction } from './custom-key-store-connection-function';
import { CustomKeyStoreFunction } from './custom-key-store-function';
import { HsmKeyFunction } from './hsm-key-function';
import { hsmKeyHome } from './hsm-key-home';
import { createKeyStoreAlarms, keyStoreThrottleQuery } from '../audit/key-alarms';
import { KeyAuditTrail } from '../audit/key-audit-trail';
import { HandlerVpcOptions } from '../custom-resources/handler-vpc';
import { providerFor } from '../custom-resources/provider-support';
import { KEY_STORE_TYPE } from '../custom-resources/resource-types';
import { ClassifiedKey } from '../key/classified-key';
import { ClassifiedKeyProps } from '../key/classified-key-props';
import { KEY_HOME } from '../key/key-home';

/**
 * Properties of a CustomKeyStore.
 */
export interface CustomKeyStoreProps {
  /**
   * The CloudHSM cluster that holds the store's key material: initialized, activated,
   * with the `kmsuser` crypto user, and active HSMs in two Availability Zones.
   */
  readonly cluster: ICloudHsmCluster;

  /** The store's name, unique in the account and Region, 1 to 256 characters. */
  readonly customKeyStoreName: string;

  /**
   * The PEM certificate the cluster was initialized with (`customerCA.crt`): the
   * trust anchor by which KMS recognizes the cluster. It cannot change afterwards.
   */
  readonly trustAnchorCertificate: string;

  /**
   * The secret holding the `kmsuser` crypto user's password (7 to 32 characters), as
   * its string or its JSON `password` field. The handler reads it at deploy time; it
   * never appears in the template. KMS sets a new password each time it connects the
   * store, so the secret holds kmsuser's password only until the first connection:
   * it is sent to KMS on create, when `kmsUserPasswordVersion` changes, and when a
   * connection failed because KMS's password was refused (INVALID_CREDENTIALS,
   * USER_LOCKED_OUT); never on a move to another cluster, a reconnection or a rollback.
   */
  readonly kmsUserPassword: secretsmanager.ISecret;

  /**
   * Any string: change it after you reset kmsuser's password on the cluster (CloudHSM
   * CLI, `user change-password --username kmsuser --role crypto-user`) to the secret's
   * value. The next deployment then disconnects the store, gives KMS the secret's
   * password and reconnects it (up to 20 minutes). Change it only after such a reset:
   * the secret's password is stale once KMS has connected the store.
   *
   * @default - no version
   */
  readonly kmsUserPasswordVersion?: string;

  /**
   * What happens to the store when it leaves the stack. With DESTROY an empty store is
   * disconnected and deleted; a store that still holds keys is always kept.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * The topic the store's alarms notify (KMS throttling its keys, an HSM unhealthy).
   *
   * @default - the topic of the stack's audit trail
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Run the functions of the store's and its keys' custom resources (handlers, waits and the
   * Provider framework's) in private subnets of a VPC, as AWS Control Tower's
   * CT.LAMBDA.PR.3 asks. See `HandlerVpcOptions` for what they must reach.
   *
   * @default - the functions run outside any VPC (CT.LAMBDA.PR.3's one documented exception)
   */
  readonly handlerVpc?: HandlerVpcOptions;
}

/**
 * A KMS custom key store backed by an AWS CloudHSM cluster, and classified keys in it
 * whose material never leaves the cluster's HSMs.
 *
 * CloudFormation has no resource for custom key stores or the keys in them; both are
 * custom resources run by aws-cdk-lib's Provider framework. Creating the store starts
 * its connection, which KMS finishes in up to 20 minutes; the deployment waits for
 * it, and a failed connection fails the deployment with the step that is missing.
 *
 * @resource Custom::KmsCustomKeyStore
 */
export class CustomKeyStore extends Construct {
  /** The store's ID, `cks-...`. */
  public readonly customKeyStoreId: string;
  /** The cluster behind the store. */
  public readonly cluster: ICloudHsmCluster;
  /** The store's alarms: KMS throttling requests to its keys, and an HSM of its cluster unhealthy. */
  public readonly alarms: cloudwatch.IAlarm[];
  private readonly handlerVpc?: HandlerVpcOptions;

  constructor(scope: Construct, id: string, props: CustomKeyStoreProps) {
    super(scope, id);
    validateStoreName(props.customKeyStoreName);
    validateCertificate(props.trustAnchorCertificate);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (removalPolicy === RemovalPolicy.SNAPSHOT) {
      throw new Error('removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a custom key store, got SNAPSHOT');
    }
    this.cluster = props.cluster;
    const stack = Stack.of(this);

    this.handlerVpc = props.handlerVpc;
    const { provider, handlerPolicy, handlerRole } = providerFor(this, KEY_STORE_HANDLER, props.handlerVpc);
    const secret = props.kmsUserPassword;
    handlerPolicy.addStatements(new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
    }), new iam.PolicyStatement({
      // The marker by which a retried create knows the store for its own: a tag on the cluster.
      actions: ['cloudhsm:ListTags', 'cloudhsm:TagResource'],
      resources: [stack.formatArn({ service: 'cloudhsm', resource: 'cluster', resourceName: props.cluster.clusterId })],
    }));
    // Secrets Manager decrypts the secret for the handler with the secret's key.
    // https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
    const suffix = (!Token.isUnresolved(stack.region) && RegionInfo.get(stack.region).domainSuffix) || stack.urlSuffix;
    secret.encryptionKey?.grantDecrypt(new iam.PrincipalWithConditions(new iam.ArnPrincipal(handlerRole.roleArn), {
      StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.${suffix}` },
    }));

    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: KEY_STORE_TYPE,
      properties: {
        CustomKeyStoreName: props.customKeyStoreName,
        CloudHsmClusterId: props.cluster.clusterId,
        TrustAnchorCertificate: props.trustAnchorCertificate,
        PasswordSecretArn: secret.secretArn,
        PasswordVersion: props.kmsUserPasswordVersion,
      },
      removalPolicy,
    });
    // A cluster of the app is ready once its HSMs (and initialization) are: the store
    // connects only after them.
    resource.node.addDependency(props.cluster);
    this.customKeyStoreId = resource.getAttString('CustomKeyStoreId');

    const trail = KeyAuditTrail.of(this);
    const alarms = createKeyStoreAlarms(this, {
      customKeyStoreId: this.customKeyStoreId, clusterId: props.cluster.clusterId, storeName: this.node.path,
    });
    for (const alarm of alarms) trail._notify(alarm, props.alarmTopic);
    this.alarms = alarms;
  }

  /**
   * A ClassifiedKey whose material KMS makes and keeps in the store's HSMs: the same
   * policy model, alias, grants and alarms as any ClassifiedKey. Such a key is a
   * symmetric encryption key that never rotates, is never multi-Region and never has
   * imported material: `keySpec`, `keyUsage`, `enableKeyRotation`, `rotationPeriod`
   * and `importKeyMaterial` asking otherwise are errors.
   *
   * @param id the key's construct ID, in the store
   * @param props the key's properties
   */
  public addKey(id: string, props: ClassifiedKeyProps): ClassifiedKey {
    const { provider, handlerRole } = providerFor(this, HSM_KEY_HANDLER, this.handlerVpc);
    return new ClassifiedKey(this, id, {
      ...props,
      [KEY_HOME]: hsmKeyHome({ serviceToken: provider.serviceToken, handlerRoleArn: handlerRole.roleArn, customKeyStoreId: this.customKeyStoreId }),
    } as ClassifiedKeyProps);
  }

  /**
   * Requests to the store's keys that KMS throttled (sum over 5 minutes), over every
   * operation: KMS publishes the metric per store, operation and key spec.
   */
  public metricThrottle(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: keyStoreThrottleQuery(this.customKeyStoreId),
      usingMetrics: {},
      period: Duration.minutes(5),
      ...props,
    });
  }
}

/** The store's handlers: create, update and delete, and the wait for the connection. */
const KEY_STORE_HANDLER = {
  name: 'CustomKeyStore',
  makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new CustomKeyStoreFunction(scope, id, options),
  // Disconnecting takes seconds; the function waits up to 150 s for it.
  timeout: Duration.minutes(5),
  endpointServices: ['kms', 'secretsmanager', 'cloudhsmv2', 'tagging'],
  statements: () => keyStoreCalls(),
  wildcardReason: 'KMS custom key store actions, ListKeys, tag:GetResources and cloudhsm:DescribeClusters take no resource ARN (IAM only)',
  isComplete: {
    statements: () => [new iam.PolicyStatement({
      actions: ['kms:DescribeCustomKeyStores', 'kms:ConnectCustomKeyStore', 'cloudhsm:DescribeClusters'],
      resources: ['*'],
    })],
    makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new CustomKeyStoreConnectionFunction(scope, id, options),
    queryInterval: Duration.seconds(30),
    // KMS connects a store in up to 20 minutes.
    totalTimeout: Duration.minutes(30),
  },
};

/** The handler of the keys in stores. */
const HSM_KEY_HANDLER = {
  name: 'HsmKey',
  makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new HsmKeyFunction(scope, id, options),
  // A create looks for a key a first attempt made, and waits out IAM propagation.
  timeout: Duration.minutes(5),
  endpointServices: ['kms', 'tagging'],
  statements: (stack: Stack) => hsmKeyCalls(stack.account),
  wildcardReason: 'ListKeys, CreateKey and tag:GetResources take no resource ARN, and the keys the handler manages are made by it: its statements on keys are held to keys of CloudHSM origin (kms:KeyOrigin) in the account (aws:ResourceAccount)',
};

/**
 * What the store's handler calls. The custom key store actions take no resource ARN
 * (IAM only); KMS asks the caller to be allowed cloudhsm:DescribeClusters, and creates
 * its service-linked role for custom key stores on the first one.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/authorize-key-store.html
 */
const keyStoreCalls = () => [
  new iam.PolicyStatement({
    actions: [
      'kms:CreateCustomKeyStore', 'kms:DescribeCustomKeyStores', 'kms:ConnectCustomKeyStore',
      'kms:DisconnectCustomKeyStore', 'kms:UpdateCustomKeyStore', 'kms:DeleteCustomKeyStore',
      'kms:ListKeys', 'cloudhsm:DescribeClusters',
    ],
    resources: ['*'],
  }),
  // Whether a store still holds keys, before deleting it: the library's keys by the
  // store's tag, others by describing the account's keys.
  new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: ['*'] }),
  new iam.PolicyStatement({ actions: ['tag:GetResources'], resources: ['*'] }),
  new iam.PolicyStatement({
    actions: ['iam:CreateServiceLinkedRole'],
    resources: ['*'],
    conditions: { StringEquals: { 'iam:AWSServiceName': 'cks.kms.amazonaws.com' } },
  }),
];

/**
 * What the keys' handler calls: create keys of CloudHSM origin only, and manage
 * only keys of that origin (`kms:KeyOrigin`) in the stack's account. Their key
 * policies name the handler's role as a writer of the policy, as KMS requires of
 * whoever creates the key.
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-key-origin
 */
function hsmKeyCalls(account: string): iam.PolicyStatement[] {
  const hsmOnly = { StringEquals: { 'kms:KeyOrigin': 'AWS_CLOUDHSM' } };
  return [
    new iam.PolicyStatement({ actions: ['kms:CreateKey', 'kms:TagResource'], resources: ['*'], conditions: hsmOnly }),
    new iam.PolicyStatement({ actions: ['kms:ListKeys', 'tag:GetResources'], resources: ['*'] }),
    new iam.PolicyStatement({
      actions: ['kms:PutKeyPolicy', 'kms:UpdateKeyDescription', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion'],
      resources: ['*'],
      conditions: { StringEquals: { 'kms:KeyOrigin': 'AWS_CLOUDHSM', 'aws:ResourceAccount': account } },
    }),
    // Reading any key of the account: the search for a key a first attempt made looks
    // at every key, and a denied request would count in the denied-requests alarms.
    new iam.PolicyStatement({
      actions: ['kms:DescribeKey', 'kms:ListResourceTags'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:ResourceAccount': account } },
    }),
  ];
}

function validateStoreName(name: string): void {
  if (Token.isUnresolved(name)) return;
  if (name.length === 0 || name.length > 256) {
    throw new Error(`customKeyStoreName must be 1 to 256 characters, got "${name}" (${name.length})`);
  }
}

function validateCertificate(pem: string): void {
  if (Token.isUnresolved(pem)) return;
  const trimmed = pem.trim();
  if (!/^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+\r?\n-----END CERTIFICATE-----$/.test(trimmed)) {
    throw new Error(`trustAnchorCertificate must be a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), the customerCA.crt the cluster was initialized with, got ${JSON.stringify(pem.slice(0, 40))}${pem.length > 40 ? '...' : ''}`);
  }
  if (pem.length > 5000) {
    throw new Error(`trustAnchorCertificate must be at most 5000 characters, as KMS takes, got ${pem.length}`);
  }
}
