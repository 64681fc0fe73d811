import { Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { SETTINGS_READS } from './actions';

/*
 * A key's network perimeter: direct calls to the key only through the organization's
 * network, as the KMS guide recommends with VPC endpoints. Calls an AWS service
 * makes for a principal (S3 decrypting an object it stores, DynamoDB creating a
 * grant) come from the service's network, and service principals from AWS's: both
 * keep working. So do the principals that write the key's policy (the deploy role,
 * a home's handler): CloudFormation and Lambda call from AWS's network.
 * https://docs.aws.amazon.com/kms/latest/developerguide/vpce-key-policy.html
 */

/** The endpoints and VPCs a key's direct calls must come through. */
export interface NetworkPerimeter {
  /** Interface endpoint IDs (`aws:SourceVpce`). */
  readonly vpcEndpointIds: string[];
  /** VPC IDs (`aws:SourceVpc`). */
  readonly vpcIds: string[];
}

const ENDPOINT_ID = /^vpce-[0-9a-f]{8,17}$/;

/** What the key's props name, checked against what is known at synth. */
export interface NetworkPerimeterProps {
  readonly vpcEndpoints?: ec2.IInterfaceVpcEndpoint[];
  readonly sourceVpcs?: ec2.IVpc[];
}

/** The perimeter of a key's props, or none; bad input is refused by prop and value. */
export function resolveNetworkPerimeter(key: IConstruct, props: NetworkPerimeterProps): NetworkPerimeter | undefined {
  if (props.vpcEndpoints === undefined && props.sourceVpcs === undefined) return undefined;
  for (const [name, list] of [['vpcEndpoints', props.vpcEndpoints], ['sourceVpcs', props.sourceVpcs]] as const) {
    if (list !== undefined && list.length === 0) {
      throw new Error(`${name} must name at least one ${name === 'vpcEndpoints' ? 'interface endpoint' : 'VPC'} (an empty list would deny every direct call to the key), got []`);
    }
  }
  const region = Stack.of(key).region;
  for (const endpoint of props.vpcEndpoints ?? []) {
    const id = endpoint.vpcEndpointId;
    if (!Token.isUnresolved(id) && !ENDPOINT_ID.test(id)) {
      throw new Error(`vpcEndpoints entries must be interface endpoints with IDs like "vpce-0a1b2c3d4e5f67890", got "${id}" (${endpoint.node.path})`);
    }
    const theirs = endpoint.env.region;
    if (!Token.isUnresolved(region) && !Token.isUnresolved(theirs) && theirs !== region) {
      throw new Error(`vpcEndpoints entries must be in the key's Region ${region}, where KMS is called through them, got ${endpoint.node.path} in ${theirs}`);
    }
    const service = serviceNameOf(endpoint);
    if (service !== undefined && !/\.kms(-fips)?$/.test(service)) {
      throw new Error(`vpcEndpoints entries must be endpoints of KMS (com.amazonaws.<region>.kms or kms-fips), got ${endpoint.node.path} for ${service}`);
    }
  }
  return {
    vpcEndpointIds: (props.vpcEndpoints ?? []).map(e => e.vpcEndpointId),
    vpcIds: (props.sourceVpcs ?? []).map(vpc => vpc.vpcId),
  };
}

/**
 * The service an endpoint of this app is for, as far as it is written at synth: AWS
 * services' names hold the Region as a token (`com.amazonaws.${AWS::Region}.sqs`), so
 * the name's literal end is what tells the service.
 */
function serviceNameOf(endpoint: ec2.IInterfaceVpcEndpoint): string | undefined {
  const cfn = endpoint.node.defaultChild;
  if (!(cfn instanceof ec2.CfnVPCEndpoint)) return undefined;
  const resolved: unknown = Stack.of(cfn).resolve(cfn.serviceName);
  if (typeof resolved === 'string') return resolved;
  const parts = (resolved as { 'Fn::Join'?: [string, unknown[]] })?.['Fn::Join']?.[1];
  const last = parts?.[parts.length - 1];
  return typeof last === 'string' ? parts!.map(p => typeof p === 'string' ? p : '<region>').join('') : undefined;
}

/**
 * The perimeter's deny: every KMS action on the key but the reads of its settings,
 * unless the call comes through one of the endpoints or VPCs, an AWS service makes
 * it for a principal (`aws:ViaAWSService`) or as itself (`aws:PrincipalIsAWSService`),
 * or a principal that writes the key's policy makes it. The settings reads
 * (`SETTINGS_READS`: describe the key, read its policy, tags, grants and rotation)
 * change nothing and use no material: AWS Config, Security Hub and the library's own
 * lookups (a multi-Region replica's, the audit heartbeat) make them from AWS's
 * network with their own roles, and would break.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcevpce
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcevpc
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-viaawsservice
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalisawsservice
 */
export function networkPerimeterStatement(perimeter: NetworkPerimeter, policyWriters: string[]): iam.PolicyStatement {
  const outside: Record<string, string[]> = {};
  if (perimeter.vpcEndpointIds.length > 0) outside['aws:SourceVpce'] = perimeter.vpcEndpointIds;
  if (perimeter.vpcIds.length > 0) outside['aws:SourceVpc'] = perimeter.vpcIds;
  return new iam.PolicyStatement({
    sid: 'DenyOutsideNetworkPerimeter',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    notActions: SETTINGS_READS,
    resources: ['*'],
    conditions: {
      StringNotEquals: outside,
      BoolIfExists: { 'aws:ViaAWSService': 'false', 'aws:PrincipalIsAWSService': 'false' },
      ArnNotEquals: { 'aws:PrincipalArn': policyWriters },
    },
  });
}
