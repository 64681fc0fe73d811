// The KMS interface endpoint of a VPC, through which only the organization's
// principals reach only the organization's keys.
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { validateOrganizationId } from '../key/validation';

/**
 * Properties of a KmsInterfaceEndpoint.
 */
export interface KmsInterfaceEndpointProps {
  /** The VPC whose calls to KMS go through the endpoint. */
  readonly vpc: ec2.IVpc;

  /**
   * The AWS Organizations organization (`o-...`) whose principals may call KMS through
   * the endpoint, and whose keys they may call.
   */
  readonly organizationId: string;

  /**
   * The subnets of the endpoint's network interfaces.
   *
   * @default - the VPC's private subnets, one per Availability Zone
   */
  readonly subnets?: ec2.SubnetSelection;

  /**
   * The security groups of the endpoint.
   *
   * @default - a new security group that admits HTTPS from the VPC's CIDR range
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * Whether the endpoint is KMS's FIPS endpoint (`kms-fips`), in the Regions that have one.
   *
   * @default false
   */
  readonly fips?: boolean;
}

/**
 * The KMS interface endpoint of a VPC, with private DNS, so that the VPC's calls to KMS
 * never leave AWS's network, and an endpoint policy that lets only the organization's
 * principals (`aws:PrincipalOrgID`) call only the organization's keys
 * (`aws:ResourceOrgID`) through it: stolen credentials of another organization, or a
 * key of another organization to exfiltrate data to, are refused at the endpoint.
 * Give its `endpoint` to a ClassifiedKey's `vpcEndpoints` to hold the key to it.
 *
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/kms-vpc-endpoint.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid
 */
export class KmsInterfaceEndpoint extends Construct {
  /** The interface endpoint. */
  public readonly endpoint: ec2.InterfaceVpcEndpoint;

  constructor(scope: Construct, id: string, props: KmsInterfaceEndpointProps) {
    super(scope, id);
    validateOrganizationId(props.organizationId);
    if (props.securityGroups !== undefined && props.securityGroups.length === 0) {
      throw new Error('securityGroups must name at least one security group, or be left out for a new one, got []');
    }
    this.endpoint = new ec2.InterfaceVpcEndpoint(this, 'Endpoint', {
      vpc: props.vpc,
      service: props.fips ? new ec2.InterfaceVpcEndpointAwsService('kms-fips') : ec2.InterfaceVpcEndpointAwsService.KMS,
      subnets: props.subnets,
      securityGroups: props.securityGroups,
      privateDnsEnabled: true,
      open: true,
    });
    // Calls that name no key (ListAliases, CreateKey, GenerateRandom) have no
    // aws:ResourceOrgID; they are held to the organization's principals alone.
    this.endpoint.addToPolicy(new iam.PolicyStatement({
      sid: 'OrganizationPrincipalsOnOrganizationKeys',
      // Endpoint policies take "*" alone, not {"AWS": "*"}.
      principals: [new iam.StarPrincipal()],
      actions: ['kms:*'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:PrincipalOrgID': props.organizationId },
        StringEqualsIfExists: { 'aws:ResourceOrgID': props.organizationId },
      },
    }));
  }
}
