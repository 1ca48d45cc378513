// CDK construct helper: the cdk-nag findings we accept for every catalogue function, each with its reason.
import { Validations } from 'aws-cdk-lib';
import type { ServerlessFunction } from './serverless-function';

/**
 * @example
 * acknowledgeFunctionFindings(new ServerlessFunction(this, 'AccountApi', props));
 */
export const acknowledgeFunctionFindings = (fn: ServerlessFunction): void => {
  Validations.of(fn.function).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'nodejs22.x on purpose: the project pins Node 22 for every script and test, so the cloud runs the ' +
      'version the code was tested on. Moving to a newer runtime is a deliberate, tested upgrade.',
  });
  Validations.of(fn.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
      'permissions, so AWS requires Resource "*" for them (and only them).',
  });
};
