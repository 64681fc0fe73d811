import { Aws, CfnResource, CustomResource, Duration, ITaggable, RemovalPolicy, Stack, TagManager, TagType, Token } from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { hsmCalls, HSMS_HANDLER, INITIALIZATION_HANDLER } from './cloudhsm-cluster-handlers';
import { selectClusterSubnets, validateClusterId, wholeDays } from './cloudhsm-cluster-settings';
import { HandlerVpcOptions } from '../custom-resources/handler-vpc';
import { policyForResource, providerFor } from '../custom-resources/provider-support';
import { CLUSTER_HSMS_TYPE, CLUSTER_INITIALIZATION_TYPE, CLUSTER_STACK_TAG } from '../custom-resources/resource-types';

/**
 * An AWS CloudHSM cluster that a custom key store can be wired to.
 */
export interface ICloudHsmCluster extends IConstruct {
  /** The cluster's ID, `cluster-` followed by 11 to 16 letters and digits. */
  readonly clusterId: string;
  /** The ID of the security group CloudHSM made for the cluster, when known. */
  readonly securityGroupId?: string;
}

/**
 * What identifies an existing CloudHSM cluster.
 */
export interface CloudHsmClusterAttributes {
  /** The cluster's ID, as `cluster-1a23b4cdefg`. */
  readonly clusterId: string;

  /**
   * The ID of the security group CloudHSM made for the cluster.
   *
   * @default - unknown
   */
  readonly securityGroupId?: string;
}

/**
 * The type of a cluster's HSMs.
 */
export class HsmType {
  /** The current HSM type, the only one for new clusters and for NON_FIPS mode. */
  public static readonly HSM2M_MEDIUM = new HsmType('hsm2m.medium');

  /**
   * An HSM type by its name, for types newer than this library.
   * `hsm1.medium` is refused: CloudHSM no longer makes new clusters of it.
   *
   * @param name the type's name, as `hsm2m.medium`
   */
  public static of(name: string): HsmType {
    if (!/^hsm[0-9][a-z0-9]*\.[a-z0-9]+$/.test(name)) {
      throw new Error(`hsmType must be an HSM type name such as hsm2m.medium, got ${JSON.stringify(name)}`);
    }
    if (name === 'hsm1.medium') {
      throw new Error('hsmType hsm1.medium cannot be used for a new cluster: CloudHSM makes new clusters of hsm2m.medium (HsmType.HSM2M_MEDIUM); an existing hsm1.medium cluster can be adopted with CloudHsmCluster.fromClusterAttributes');
    }
    return new HsmType(name);
  }

  private constructor(
    /** The type's name, as CloudHSM writes it. */
    public readonly name: string,
  ) {}
}

/**
 * The mode of a cluster's HSMs, chosen when the cluster is made.
 */
export enum ClusterMode {
  /** FIPS 140-3 Level 3 validated mode: only FIPS-approved keys and algorithms. */
  FIPS = 'FIPS',
  /** Non-FIPS mode, with keys and algorithms outside FIPS (hsm2m.medium only). */
  NON_FIPS = 'NON_FIPS',
}

/**
 * Properties of a new CloudHsmCluster.
 */
export interface CloudHsmClusterProps {
  /** The VPC the cluster's HSMs are in. */
  readonly vpc: ec2.IVpc;

  /**
   * The subnets of the cluster: one per Availability Zone, in two zones at least, so
   * that its HSMs survive the loss of a zone (KMS asks for two zones to connect a
   * custom key store).
   *
   * @default - the VPC's private subnets, one per Availability Zone
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * How many HSMs the cluster has once activated, 2 to 28, spread evenly over its
   * Availability Zones. Before activation CloudHSM takes only one, which the first
   * deployment makes (see `activated`).
   *
   * @default 2
   */
  readonly hsmsPerCluster?: number;

  /**
   * Whether the cluster was activated (the README's ceremony, with the CloudHSM CLI).
   * CloudFormation calls a custom resource only when its properties change: setting
   * this to true after activating is what has the next deployment add the HSMs
   * beyond the first. Set on a cluster that is not activated, the deployment fails
   * with the step that is missing.
   *
   * @default false
   */
  readonly activated?: boolean;

  /**
   * The type of the cluster's HSMs.
   *
   * @default HsmType.HSM2M_MEDIUM
   */
  readonly hsmType?: HsmType;

  /**
   * The HSMs' mode. It cannot change after the cluster is made.
   *
   * @default ClusterMode.FIPS
   */
  readonly mode?: ClusterMode;

  /**
   * How long CloudHSM keeps the cluster's backups, in whole days from 7 to 379.
   *
   * @default Duration.days(90)
   */
  readonly backupRetention?: Duration;

  /**
   * A root CA of ACM Private CA that initializes the cluster: the deployment has it
   * sign the cluster's certificate signing request and calls InitializeCluster, with
   * the CA's certificate as the trust anchor (`trustAnchorCertificate`). The CA must
   * be ACTIVE; CloudHSM takes a self-signed trust anchor, so it must be a root CA.
   *
   * @default - the cluster is not initialized; do it by hand (the README's ceremony)
   */
  readonly certificateAuthority?: acmpca.ICertificateAuthority;

  /**
   * How long the cluster's certificate signed by `certificateAuthority` is valid, in
   * whole days; it must end before the CA's own certificate does. It is used once,
   * when the cluster is initialized: a cluster is never initialized again.
   *
   * @default Duration.days(1825) (five years)
   */
  readonly clusterCertificateValidity?: Duration;

  /**
   * What happens to the cluster and its HSMs when they leave the stack. With DESTROY
   * the HSMs are deleted and then the cluster; CloudHSM keeps the cluster's last
   * backup. The default keeps them, except when the deployment that creates them
   * fails: its rollback deletes them rather than leave HSMs billed outside any stack.
   *
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Run the functions of this construct's custom resources (handlers, waits and the
   * Provider framework's) in private subnets of a VPC, as AWS Control Tower's
   * CT.LAMBDA.PR.3 asks. See `HandlerVpcOptions` for what they must reach.
   *
   * @default - the functions run outside any VPC (CT.LAMBDA.PR.3's one documented exception)
   */
  readonly handlerVpc?: HandlerVpcOptions;
}

/**
 * An AWS CloudHSM cluster, for a CustomKeyStore.
 *
 * A new cluster is an `AWS::CloudHSM::Cluster` with its HSMs, which CloudFormation
 * has no resource for: a custom resource creates them (spread over the cluster's
 * Availability Zones), waits for each to be ACTIVE, adds or removes them when
 * `hsmsPerCluster` changes, and deletes them before the cluster. Given an ACM Private
 * CA root, another initializes the cluster. Activation and the `kmsuser` crypto user
 * need the CloudHSM CLI on a host in the VPC (the README's ceremony, from nothing to
 * a key, says how).
 *
 * `fromClusterAttributes` adopts a cluster that exists.
 *
 * @resource AWS::CloudHSM::Cluster
 */
export class CloudHsmCluster extends Construct implements ICloudHsmCluster, ec2.IConnectable {
  /**
   * Adopts an existing cluster. Its ID is checked at synth; whether it is ready for a
   * key store is checked by KMS when the store is created, and a cluster that is not
   * fails the deployment with the step that is missing.
   */
  public static fromClusterAttributes(scope: Construct, id: string, attrs: CloudHsmClusterAttributes): ICloudHsmCluster {
    validateClusterId('clusterId', attrs.clusterId);
    if (attrs.securityGroupId !== undefined && !Token.isUnresolved(attrs.securityGroupId) && !/^sg-[0-9a-f]{8,17}$/.test(attrs.securityGroupId)) {
      throw new Error(`securityGroupId must be a security group ID (sg- and 8 to 17 hexadecimal digits), got ${attrs.securityGroupId}`);
    }
    class Imported extends Construct implements ICloudHsmCluster {
      public readonly clusterId = attrs.clusterId;
      public readonly securityGroupId = attrs.securityGroupId;
    }
    return new Imported(scope, id);
  }

  /** The cluster's ID. */
  public readonly clusterId: string;
  /** The ID of the security group CloudHSM made for the cluster, which lets its HSMs talk to each other. */
  public readonly securityGroupId?: string;
  /**
   * The cluster's network access: its security group, on the ports clients reach the
   * HSMs on (TCP 2223 to 2225), as `cluster.connections.allowDefaultPortFrom(host)`.
   */
  public readonly connections: ec2.Connections;
  /** How many HSMs the cluster has once activated. */
  public readonly hsmsPerCluster: number;
  /**
   * The trust anchor of the cluster (the CA's certificate, PEM), for a CustomKeyStore's
   * `trustAnchorCertificate`; only when `certificateAuthority` initializes it.
   */
  public readonly trustAnchorCertificate?: string;

  constructor(scope: Construct, id: string, props: CloudHsmClusterProps) {
    super(scope, id);
    const hsmsPerCluster = props.hsmsPerCluster ?? 2;
    if (!Number.isInteger(hsmsPerCluster) || hsmsPerCluster < 2 || hsmsPerCluster > 28) {
      throw new Error(`hsmsPerCluster must be a whole number from 2 to 28 (CloudHSM's quota per cluster): one HSM is lost with its Availability Zone, and KMS connects a store to HSMs in two zones; got ${hsmsPerCluster}`);
    }
    const hsmType = props.hsmType ?? HsmType.HSM2M_MEDIUM;
    const mode = props.mode ?? ClusterMode.FIPS;
    if (mode === ClusterMode.NON_FIPS && hsmType.name !== HsmType.HSM2M_MEDIUM.name) {
      throw new Error(`mode NON_FIPS needs hsmType hsm2m.medium, got ${hsmType.name}`);
    }
    const retentionDays = wholeDays('backupRetention', props.backupRetention ?? Duration.days(90), 7, 379);
    if (props.clusterCertificateValidity && !props.certificateAuthority) {
      throw new Error('clusterCertificateValidity is used only with certificateAuthority, which signs the cluster\'s certificate; set both, or neither');
    }
    const validityDays = wholeDays('clusterCertificateValidity', props.clusterCertificateValidity ?? Duration.days(1825), 1, 36500);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
    if (removalPolicy === RemovalPolicy.SNAPSHOT) {
      throw new Error('removalPolicy must be RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY for a CloudHSM cluster, got SNAPSHOT: CloudHSM backs clusters up itself (backupRetention)');
    }
    const subnetIds = selectClusterSubnets(props.vpc, props.vpcSubnets);
    this.hsmsPerCluster = hsmsPerCluster;

    const cluster = new ClusterResource(this, 'Resource', {
      HsmType: hsmType.name,
      SubnetIds: subnetIds,
      Mode: mode,
      BackupRetentionPolicy: { Type: 'DAYS', Value: String(retentionDays) },
    });
    cluster.applyRemovalPolicy(removalPolicy);
    // Which stack made it: the HSMs handler empties a replaced cluster only if it is its stack's.
    cluster.tags.setTag(CLUSTER_STACK_TAG, Aws.STACK_ID);
    this.clusterId = cluster.getAtt('ClusterId').toString();
    const securityGroupId = cluster.getAtt('SecurityGroup').toString();
    this.securityGroupId = securityGroupId;
    this.connections = new ec2.Connections({
      securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', securityGroupId)],
      defaultPort: ec2.Port.tcpRange(2223, 2225),
    });
    const clusterArn = cluster.getAtt('Arn').toString();

    const hsmsProvider = providerFor(this, HSMS_HANDLER, props.handlerVpc);
    const hsms = new CustomResource(this, 'Hsms', {
      serviceToken: hsmsProvider.provider.serviceToken,
      resourceType: CLUSTER_HSMS_TYPE,
      properties: {
        ClusterId: this.clusterId,
        // By which the handlers check that the cluster an event names is this stack's.
        ClusterLogicalId: cluster.logicalId,
        HsmCount: String(hsmsPerCluster),
        Activated: String(props.activated ?? false),
      },
      removalPolicy,
    });
    policyForResource(hsms, 'HsmsPolicy', hsmsProvider.isCompleteRole!, hsmCalls(Stack.of(this), {
      clusterArn, subnetIds, securityGroupId, vpcId: props.vpc.vpcId,
    }), HSMS_HANDLER.wildcardReason);

    if (props.certificateAuthority) {
      const ca = props.certificateAuthority.certificateAuthorityArn;
      const initProvider = providerFor(this, INITIALIZATION_HANDLER, props.handlerVpc);
      const initialization = new CustomResource(this, 'Initialization', {
        serviceToken: initProvider.provider.serviceToken,
        resourceType: CLUSTER_INITIALIZATION_TYPE,
        properties: {
          ClusterId: this.clusterId,
          ClusterLogicalId: cluster.logicalId,
          CertificateAuthorityArn: ca,
          ValidityDays: String(validityDays),
        },
      });
      policyForResource(initialization, 'InitializationPolicy', initProvider.handlerRole, [
        new iam.PolicyStatement({
          actions: ['acm-pca:DescribeCertificateAuthority', 'acm-pca:GetCertificateAuthorityCertificate'],
          resources: [ca],
        }),
        // An end-entity certificate only: the root never signs a CA through this role.
        // https://docs.aws.amazon.com/privateca/latest/userguide/UsingTemplates.html
        new iam.PolicyStatement({
          actions: ['acm-pca:IssueCertificate'],
          resources: [ca],
          conditions: { StringEquals: { 'acm-pca:TemplateArn': `arn:${Aws.PARTITION}:acm-pca:::template/EndEntityCertificate/V1` } },
        }),
      ]);
      policyForResource(initialization, 'InitializationWaitPolicy', initProvider.isCompleteRole!, [
        new iam.PolicyStatement({ actions: ['acm-pca:GetCertificate', 'acm-pca:GetCertificateAuthorityCertificate'], resources: [ca] }),
        new iam.PolicyStatement({ actions: ['cloudhsm:InitializeCluster'], resources: [clusterArn] }),
      ]);
      // CloudHSM makes the certificate signing request once the first HSM is active.
      initialization.node.addDependency(hsms);
      this.trustAnchorCertificate = initialization.getAttString('TrustAnchorCertificate');
    }
  }
}

/**
 * The cluster's resource: taggable, so that the stack's tags reach the cluster
 * (KEY_VALUE renders `Key` and `Value` as CloudFormation spells them; a raw resource
 * has no property mapper to do it).
 */
class ClusterResource extends CfnResource implements ITaggable {
  public readonly tags = new TagManager(TagType.KEY_VALUE, 'AWS::CloudHSM::Cluster', undefined, { tagPropertyName: 'Tags' });

  constructor(scope: Construct, id: string, properties: Record<string, unknown>) {
    super(scope, id, { type: 'AWS::CloudHSM::Cluster', properties });
  }
}
