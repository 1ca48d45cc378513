// CDK construct helper: DynamoDB data grants on a table and its named indexes, without `index/*` wildcards.

import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Access } from '../../functions/platform/functions';
import type { TableDefinition } from '../../functions/platform/tables';

// grantReadData's item actions without the stream ones (no table has a stream) and without Scan: no code
// scans (listing is a Query on an index), and a Scan reads every tenant's items, so nobody gets it.
const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;

const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
] as const;

/**
 * The same actions as `grantReadData` / `grantReadWriteData`, on the table and each index the manifest
 * names (instead of `table/index/*`), so the policy has no wildcard to justify. Tables use the AWS-managed
 * key, so no KMS grant is needed.
 *
 * @example
 * grantTableData(role, tables.tenants, TABLES.tenants, 'read');
 */
export const grantTableData = (
  grantee: iam.IGrantable,
  table: ITable,
  definition: TableDefinition,
  access: Access,
): iam.Grant =>
  iam.Grant.addToPrincipal({
    grantee,
    actions:
      access === 'readWrite' ? [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS] : [...TABLE_READ_ACTIONS],
    resourceArns: [
      table.tableArn,
      ...definition.indexes.map((index) => `${table.tableArn}/index/${index.name}`),
    ],
  });
