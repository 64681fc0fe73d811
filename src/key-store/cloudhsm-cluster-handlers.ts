import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CloudhsmHsmsFunction } from './cloudhsm-hsms-function';
import { CloudhsmHsmsReadyFunction } from './cloudhsm-hsms-ready-function';
import { CloudhsmInitializationFunction } from './cloudhsm-initialization-function';
import { CloudhsmInitializationReadyFunction } from './cloudhsm-initialization-ready-function';

/*
 * The handlers of a CloudHsmCluster's custom resources (its HSMs, and its
 * initialization by an ACM Private CA), and what making and deleting HSMs calls.
 */

/** The HSMs' handlers: onEvent checks what was asked, the wait makes and deletes HSMs. */
export const HSMS_HANDLER = {
  name: 'CloudHsmHsms',
  makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new CloudhsmHsmsFunction(scope, id, options),
  timeout: Duration.minutes(1),
  endpointServices: ['cloudhsmv2'],
  statements: () => [new iam.PolicyStatement({ actions: ['cloudhsm:DescribeClusters'], resources: ['*'] })],
  wildcardReason: 'cloudhsm:DescribeClusters, DeleteHsm and the EC2 Describe calls take no resource ARN (IAM only); the network interface CloudHSM makes for an HSM, and a security group it may make, are named by CloudHSM: held to the cluster\'s subnets (ec2:Subnet) and VPC (ec2:Vpc)',
  isComplete: {
    statements: () => [new iam.PolicyStatement({ actions: ['cloudhsm:DescribeClusters'], resources: ['*'] })],
    makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new CloudhsmHsmsReadyFunction(scope, id, options),
    queryInterval: Duration.seconds(30),
    // CloudHSM makes HSMs in parallel, each in 10 to 20 minutes; deleting is quicker.
    // Under CloudFormation's hour for a custom resource, so that the wait has stopped
    // before CloudFormation gives up and rolls back.
    totalTimeout: Duration.minutes(55),
  },
};

/** The initialization's handlers: onEvent has the CA sign the CSR, the wait initializes. */
export const INITIALIZATION_HANDLER = {
  name: 'CloudHsmClusterInitialization',
  makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new CloudhsmInitializationFunction(scope, id, options),
  timeout: Duration.minutes(1),
  endpointServices: ['cloudhsmv2', 'acm-pca'],
  statements: () => [new iam.PolicyStatement({ actions: ['cloudhsm:DescribeClusters'], resources: ['*'] })],
  wildcardReason: 'cloudhsm:DescribeClusters takes no resource ARN (IAM only)',
  isComplete: {
    statements: () => [new iam.PolicyStatement({ actions: ['cloudhsm:DescribeClusters'], resources: ['*'] })],
    makeFunction: (scope: Construct, id: string, options: lambda.FunctionOptions) => new CloudhsmInitializationReadyFunction(scope, id, options),
    queryInterval: Duration.seconds(30),
    totalTimeout: Duration.minutes(30),
  },
};

/**
 * What making and deleting a cluster's HSMs calls: CreateHsm on the cluster, and
 * DeleteHsm, which takes no resource ARN and no condition key (the Service
 * Authorization Reference lists neither for it), so IAM cannot hold it to the stack's
 * clusters: the handlers do, by deleting only the HSMs of the cluster a Delete's
 * physical ID names, after CloudFormation confirmed the event (event-verification).
 * CloudHSM makes each HSM's network interface in the cluster's subnet and security
 * group with the caller's EC2 permissions (its service-linked role writes only logs),
 * and asks for the security group actions the Service Authorization Reference lists
 * with CreateHsm.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_cloudhsm.html
 * @see https://docs.aws.amazon.com/cloudhsm/latest/userguide/identity-access-management.html
 */
export function hsmCalls(
  stack: Stack, cluster: { clusterArn: string; subnetIds: string[]; securityGroupId: string; vpcId: string },
): iam.PolicyStatement[] {
  const ec2Arn = (resource: string, name: string) => stack.formatArn({ service: 'ec2', resource, resourceName: name });
  const subnetArns = cluster.subnetIds.map(id => ec2Arn('subnet', id));
  const vpcArn = ec2Arn('vpc', cluster.vpcId);
  return [
    new iam.PolicyStatement({ actions: ['cloudhsm:CreateHsm'], resources: [cluster.clusterArn] }),
    new iam.PolicyStatement({ actions: ['cloudhsm:DeleteHsm'], resources: ['*'] }),
    new iam.PolicyStatement({
      actions: ['ec2:CreateNetworkInterface'],
      resources: [...subnetArns, ec2Arn('security-group', cluster.securityGroupId)],
    }),
    // The HSM's network interface is named by CloudHSM: made in the cluster's subnets,
    // deleted in its VPC (the subnets of a cluster the stack replaced included).
    new iam.PolicyStatement({
      actions: ['ec2:CreateNetworkInterface'],
      resources: ['*'],
      conditions: { ArnEquals: { 'ec2:Subnet': subnetArns } },
    }),
    new iam.PolicyStatement({
      actions: ['ec2:DeleteNetworkInterface'],
      resources: ['*'],
      conditions: { ArnEquals: { 'ec2:Vpc': vpcArn } },
    }),
    new iam.PolicyStatement({
      actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupEgress'],
      resources: [ec2Arn('security-group', cluster.securityGroupId)],
    }),
    new iam.PolicyStatement({ actions: ['ec2:CreateSecurityGroup'], resources: [vpcArn] }),
    new iam.PolicyStatement({
      actions: ['ec2:CreateSecurityGroup'],
      resources: ['*'],
      conditions: { ArnEquals: { 'ec2:Vpc': vpcArn } },
    }),
    new iam.PolicyStatement({
      actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
      resources: ['*'],
    }),
  ];
}
