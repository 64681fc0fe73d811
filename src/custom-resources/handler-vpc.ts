import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * Where the functions of the library's custom resources run: in private subnets of a
 * VPC, as organizations that enforce AWS Control Tower's CT.LAMBDA.PR.3 require.
 *
 * Every function of the construct's custom resources goes there: its handlers, their
 * waits, and the Provider framework's functions. They call AWS APIs only, during
 * deployments, so the subnets must reach those APIs: through a NAT gateway, or
 * through VPC endpoints with private DNS (`createEndpoints`, or endpoints the VPC
 * already has). What they call:
 *
 * - every custom resource: CloudFormation (`cloudformation`, each handler checks its
 *   events), Lambda (`lambda`, the framework invokes the handlers), Step Functions
 *   (`states`, for the waits), and S3 (a gateway endpoint: the framework sends its
 *   answer to CloudFormation's pre-signed S3 URL);
 * - a CustomKeyStore and its keys: KMS (`kms`), Secrets Manager (`secretsmanager`),
 *   CloudHSM (`cloudhsmv2`) and the Resource Groups Tagging API (`tagging`);
 * - a CloudHsmCluster: CloudHSM (`cloudhsmv2`), and ACM Private CA (`acm-pca`) with a
 *   `certificateAuthority`;
 * - a MultiRegionKeySet's replica stacks: CloudFormation and KMS of the primary
 *   Region, which no endpoint in the replica's Region serves: its subnets need a NAT
 *   gateway (isolated subnets are refused).
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
 * @see https://docs.aws.amazon.com/controltower/latest/controlreference/lambda-rules.html
 */
export interface HandlerVpcOptions {
  /** The VPC the functions run in. */
  readonly vpc: ec2.IVpc;

  /**
   * The private subnets the functions run in (never public ones: a function there has
   * no public address).
   *
   * @default - the VPC's private subnets with egress; its isolated subnets when it has none
   */
  readonly subnets?: ec2.SubnetSelection;

  /**
   * The functions' security groups.
   *
   * @default - one security group that allows only HTTPS out
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * Whether the library creates the VPC endpoints its functions in this stack need
   * (interface endpoints with private DNS in the functions' subnets, and an S3
   * gateway endpoint on their route tables). Leave it off when the subnets have a NAT
   * gateway or the VPC already has those endpoints: a VPC holds one endpoint with
   * private DNS per service, and a second fails the deployment. Private DNS needs the
   * VPC's DNS support and DNS hostnames on, and each service's endpoint must be offered
   * in the subnets' Availability Zones (CloudHSM's is not in every zone: choose
   * `subnets` in zones where the cluster has HSMs).
   *
   * @default false
   */
  readonly createEndpoints?: boolean;
}
