import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { HandlerVpcOptions } from './handler-vpc';

/*
 * Where a stack's functions run in a VPC (`handlerVpc`): the default subnets, and
 * the security groups and endpoints each placement has.
 */

/** The VPC's private subnets with egress, or its isolated ones when it has none. */
export function defaultSubnets(vpc: ec2.IVpc): ec2.SubnetSelection {
  return { subnetType: vpc.privateSubnets.length > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED };
}

/**
 * Where a stack's functions run in a VPC (`handlerVpc`): the subnets, the security
 * groups, and with `createEndpoints` the endpoints of the services they call, each
 * made once, when a provider first needs it.
 */
export class HandlerNetwork extends Construct {
  public readonly vpc: ec2.IVpc;
  public readonly securityGroups: ec2.ISecurityGroup[];
  private readonly endpoints = new Set<string>();

  constructor(scope: Construct, public readonly id: string, private readonly options: HandlerVpcOptions, public readonly subnets: ec2.ISubnet[]) {
    super(scope, id);
    this.vpc = options.vpc;
    if (options.securityGroups && options.securityGroups.length > 0) {
      this.securityGroups = options.securityGroups;
    } else {
      const group = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: this.vpc,
        description: 'The functions of the custom resources of cdk-kms-constructs: HTTPS out to AWS APIs only',
        allowAllOutbound: false,
      });
      group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs (VPC endpoints or a NAT gateway)');
      this.securityGroups = [group];
    }
    if (options.createEndpoints) {
      const unknown = this.subnets.filter(subnet => !subnet.routeTable?.routeTableId);
      if (unknown.length > 0) {
        throw new Error(`handlerVpc.createEndpoints needs the route table of each subnet for the S3 gateway endpoint; subnets ${unknown.map(s => s.node.path).join(', ')} `
          + 'have none known (import them with their routeTableId), or leave createEndpoints off and give the VPC the endpoints yourself');
      }
      // The Provider framework answers CloudFormation at a pre-signed S3 URL.
      new ec2.GatewayVpcEndpoint(this, 'S3Endpoint', { vpc: this.vpc, service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [{ subnets: this.subnets }] });
    }
  }

  /** The placement, for messages: the VPC and the subnets. */
  public describe(): string {
    const ids = this.subnets.map(s => (Token.isUnresolved(s.subnetId) ? s.node.path : s.subnetId));
    return `VPC ${this.vpc.node.path}, subnets ${ids.join(', ')}`;
  }

  /** The interface endpoints of these services, made when `createEndpoints` and not made yet. */
  public needs(services: string[]): void {
    if (!this.options.createEndpoints) return;
    for (const service of services) {
      if (this.endpoints.has(service)) continue;
      this.endpoints.add(service);
      const endpoint = new ec2.InterfaceVpcEndpoint(this, `${service.replace(/[^a-z0-9]/gi, '')}Endpoint`, {
        vpc: this.vpc,
        service: new ec2.InterfaceVpcEndpointAwsService(service),
        subnets: { subnets: this.subnets },
        privateDnsEnabled: true,
        open: false,
      });
      for (const group of this.securityGroups) endpoint.connections.allowDefaultPortFrom(group, 'HTTPS from the functions of cdk-kms-constructs');
    }
  }
}
