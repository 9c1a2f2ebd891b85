// The single DynamoDB table every cloudtable table lives in, keyed as
// lambda/store/schema.ts lays items out.

import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { PK, SK } from '../lambda/store/schema.js';

export interface StoreTableProps {
  /** RETAIN unless told otherwise: mail routing data outlives any one stack. */
  removalPolicy?: RemovalPolicy;
  /** On unless told otherwise: a delete-table call fails until it is turned off. */
  deletionProtection?: boolean;
}

export function createStoreTable(scope: Construct, id: string, props: StoreTableProps = {}): Table {
  return new Table(scope, id, {
    partitionKey: { name: PK, type: AttributeType.STRING },
    sortKey: { name: SK, type: AttributeType.STRING },
    // Lookups come in bursts behind a cache; on-demand costs nothing idle.
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: props.deletionProtection ?? true,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
}
