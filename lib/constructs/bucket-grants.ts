// CDK construct helper: files-bucket grants limited to the `tenants/` prefix, with explicit actions.
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { Access } from '../../functions/platform/functions';

/** Every key the runtime writes starts here (`tenants/<t>/...`); nothing outside it is reachable. */
const TENANT_OBJECTS_PREFIX = 'tenants/';

const BUCKET_READ_ACTIONS = ['s3:GetObject'] as const;
const BUCKET_WRITE_ACTIONS = ['s3:PutObject', 's3:DeleteObject'] as const;

/** The bucket ARN as a value of `scope`'s stack, and how cdk-nag spells it in a finding id. */
const bucketArnIn = (scope: Construct, bucket: IBucket): { arn: string; nagName: string } => {
  const owner = Stack.of(bucket);
  const here = Stack.of(scope);
  if (owner === here) {
    const logicalId = owner.getLogicalId(bucket.node.defaultChild as CfnElement);
    return { arn: bucket.bucketArn, nagName: `<${logicalId}.Arn>` };
  }
  // The same export a strong reference would create, made here so its name is known at construct time.
  const arn = owner.exportValue(bucket.bucketArn);
  const resolved = here.resolve(arn) as { 'Fn::ImportValue'?: string };
  return { arn, nagName: resolved['Fn::ImportValue'] ?? arn };
};

/**
 * Object reads (and writes and deletes for `readWrite`) under `tenants/*`, and listing of that prefix only,
 * instead of `grantReadWrite`'s `s3:*Object*` and `s3:List*` wildcards. Object keys are chosen at runtime,
 * so the one resource wildcard left (`<bucket>/tenants/*`) is acknowledged with its reason.
 *
 * @example
 * grantBucketData(fn.role, resources.bucket, 'readWrite');
 */
export const grantBucketData = (role: iam.Role, bucket: IBucket, access: Access): void => {
  const { arn, nagName } = bucketArnIn(role, bucket);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions:
        access === 'readWrite' ? [...BUCKET_READ_ACTIONS, ...BUCKET_WRITE_ACTIONS] : [...BUCKET_READ_ACTIONS],
      resources: [`${arn}/${TENANT_OBJECTS_PREFIX}*`],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [arn],
      conditions: { StringLike: { 's3:prefix': [`${TENANT_OBJECTS_PREFIX}*`] } },
    }),
  );
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagName}/${TENANT_OBJECTS_PREFIX}*]`,
      reason:
        'Object keys (tenants/<tenant>/sessions/<session>/...) are created at runtime, so object actions ' +
        'cannot name them in advance; the grant is limited to the tenants/ prefix of this one bucket, with ' +
        'explicit actions.',
    });
  }
};
